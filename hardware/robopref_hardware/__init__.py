"""Robot-side package for robopref: arm, gripper and camera interfaces, safety layer, robot server.

It never imports torch: it is what gets installed on the computer next to the arm."""
