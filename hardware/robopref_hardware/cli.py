"""``robopref-robot serve hardware=<name> [overrides]``: run the robot server next to the arm.

Builds the arm and cameras from the hardware config, wraps the arm in the safety layer,
connects, and serves until Ctrl-C or SIGTERM (the arm is stopped on the way out).
Enter in the server's terminal latches the emergency stop.
"""

from __future__ import annotations

import logging
import signal
import sys
from typing import Sequence

from robopref_hardware.protocol import OPS, PROTOCOL_VERSION

log = logging.getLogger("robopref_hardware")

USAGE = f"""usage: robopref-robot serve [hardware=sim|ur_rtde|franka|xarm] [key=value ...]

Run the robot server (protocol {PROTOCOL_VERSION}) next to the arm. Examples:
  robopref-robot serve hardware=sim
  robopref-robot serve hardware=sim dry_run=true server.port=5556
  robopref-robot serve hardware=franka hardware.arm.host=172.16.0.2 server.host=0.0.0.0 server.token=SECRET
  robopref-robot serve --help        # the full config (Hydra)

Requests it answers:
""" + "\n".join(f"  {k:16s} {v}" for k, v in OPS.items())


def serve(cfg) -> None:
    """Hydra entry point of ``serve``."""
    from omegaconf import OmegaConf

    from robopref_hardware.factory import build_robot
    from robopref_hardware.safety.estop import StdinEStop
    from robopref_hardware.server import RobotServer, ServerConfig

    hw = OmegaConf.to_container(cfg.hardware, resolve=True)
    arm, cams = build_robot(hw, dry_run=bool(cfg.dry_run))
    server_cfg = ServerConfig(**OmegaConf.to_container(cfg.server, resolve=True))
    server = RobotServer(arm, cams, server_cfg, info={"hardware": hw.get("arm", {}).get("_target_", "?")})
    server.bind()  # fail fast (port in use) before touching the hardware
    signal.signal(signal.SIGTERM, lambda *_: server.shutdown())
    arm.connect()
    try:
        for name, cam in cams.items():
            cam.connect()
            log.info("camera %s: %dx%d at %.0f fps", name, cam.config.width, cam.config.height, cam.config.fps)
        if cfg.home_on_start and not cfg.dry_run:
            arm.home()
        if cfg.stdin_estop and sys.stdin is not None and sys.stdin.isatty():
            StdinEStop(arm.estop).start()
            print("Press Enter here for an EMERGENCY STOP ('r' + Enter releases it).", flush=True)
        print(f"robot server ready on {server.endpoint} (protocol {PROTOCOL_VERSION}, dry_run={bool(cfg.dry_run)})", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
    finally:
        for cam in cams.values():
            cam.disconnect()
        arm.disconnect()
        log.info("safety counters at exit: %s", dict(arm.counters))


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0
    if args[0] != "serve":
        print(f"robopref-robot: unknown command {args[0]!r}\n\n{USAGE}", file=sys.stderr)
        return 2
    import hydra

    rest = args[1:]
    flags = [a for a in rest if a.startswith("-")]
    overrides = [a for a in rest if not a.startswith("-")]
    sys.argv = ["robopref-robot-serve", *flags, *overrides]
    app = hydra.main(config_path="pkg://robopref_hardware.conf", config_name="serve", version_base="1.3")(serve)
    app()
    return 0


if __name__ == "__main__":
    sys.exit(main())
