"""The kiosk as an appliance: the machine boots into the kiosk's hall screen.

``kiosk appliance install`` (as root, once) makes a dedicated unprivileged user and a systemd
service that starts cage, a full-screen Wayland compositor without a desktop, on tty1 with
that user's login session; cage runs ``kiosk appliance session``, which keeps ``kiosk serve``
(bound to 127.0.0.1) and Chromium in kiosk mode on its page running. ``kiosk appliance
remove`` undoes what install did, from the record install keeps (files.py).

- units.py: the text of every file install writes (the unit, its PAM service, Chromium's
  policy), each a pure function of the settings.
- files.py: install and remove, the account, and the record of what was done.
- session.py: the session itself: the server and the browser, each started again when it
  stops.
"""
