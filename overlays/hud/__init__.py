"""The headset HUD: a small web page plus a ZeroMQ -> WebSocket bridge (``cpr-coach hud``)."""
