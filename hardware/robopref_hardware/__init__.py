"""Robot-side package for robopref: arm, gripper and camera interfaces, safety layer, robot server.

It never imports torch: it is what gets installed on the computer next to the arm.

Public API (each module is small and imported on demand)::

    robopref_hardware.arms.base.Arm / ArmConfig            connect, disconnect, observe, send, stop, home
    robopref_hardware.arms.{sim,ur_rtde,franka,xarm}        backends (SimArmConfig, URArmConfig, FrankaArmConfig, XArmConfig)
    robopref_hardware.grippers.base.Gripper                move(width, force), width()
    robopref_hardware.cameras.base.Camera                  latest() -> Frame(image, t, seq)
    robopref_hardware.cameras.{sim,opencv,realsense,pattern}
    robopref_hardware.teleop.{keyboard,gamepad}            read() -> TeleopInput(delta_pos, gripper_closed, events)
    robopref_hardware.safety.SafeArm / SafetyConfig        every command checked: clamp | refuse, counted, logged
    robopref_hardware.safety.Watchdog / EStop
    robopref_hardware.server.RobotServer / ServerConfig    ZeroMQ ROUTER, msgpack, token, 127.0.0.1 by default
    robopref_hardware.client.RobotClient                   observe, command, step, frame, estop, stats; clear errors
    robopref_hardware.factory.build_robot(hardware_cfg)    SafeArm + cameras from conf/hardware/<name>.yaml

Command line: ``robopref-robot serve hardware=sim|ur_rtde|franka|xarm [overrides]``.
"""

__version__ = "0.1.0"
