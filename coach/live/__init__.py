"""The live station: a camera (or a file played as one) through the pipeline into the Station.

``cpr-coach run`` and ``cpr-coach demo`` both drive :class:`coach.live.loop.LiveLoop`: one loop,
``Pipeline.process`` per frame feeding ``Station`` (feedback, publisher, remote, recorder). Nothing
here measures or coaches by itself; it joins the parts, keeps the camera thread newest-only, and
moves slow side jobs (JPEG encoding for ``cpr.frame``, the preview window) off the tracking thread.
"""
