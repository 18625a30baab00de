"""The built-in virtual station: a rendered manikin, a printed marker and a real photographed hand
moved by the core simulator's waveform, so ``cpr-coach demo`` runs the whole live path with no
camera, no calibration file and no data. The trainee is simulated; the vision, calibration,
coaching, publishing and recording are the real ones.
"""
