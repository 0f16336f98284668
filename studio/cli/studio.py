"""`flipbook studio`: the browser studio (studio.app) on the embedded models or a checkpoint of one's own."""
from __future__ import annotations

from .options import HelpFormatter, add_model, memory_options, positive_float, positive_int

def add_commands(sub):
    s = sub.add_parser("studio", help="open the browser studio", formatter_class=HelpFormatter)
    s.add_argument("--host", default="127.0.0.1", help="address to bind (loopback only: this machine alone)")
    s.add_argument("--port", type=positive_int, default=7860, help="port to serve on")
    s.add_argument("--share", action="store_true", help="also open a public gradio share link")
    s.add_argument("--auth", default=None, help="USER:PASSWORD required to open the studio")
    s.add_argument("--queue-size", type=positive_int, default=32,
                   help="requests that may wait at once; more are refused with 'Queue is full'")
    s.add_argument("--max-sessions", type=positive_int, default=64,
                   help="browsers whose state (History) is kept in memory, the oldest dropped")
    s.add_argument("--shared-models", action="store_true",
                   help="every browser sees every model tuned in the Tune tab (by default only the browser that "
                        "tuned it)")
    s.add_argument("--max-upload-mb", type=positive_float, default=None,
                   help="largest upload accepted, in MB (default 32: studio.app's MAX_UPLOAD_MB)")
    add_model(s)
    s.add_argument("--modes", default=None, metavar="DIR",
                   help="folder of tuned modes (DIR/MODE/mode.json) for --model (default: assets/modes)")
    s.set_defaults(run=studio)


def studio(args) -> int:
    from ..app import launch  # heavy: gradio and the engine load only when the studio starts

    model = {"model": args.model, "modes": args.modes, "dtype": args.dtype, "device": args.device,
             "memory": memory_options(args)}
    limits = {"max_upload_mb": args.max_upload_mb} if args.max_upload_mb else {}
    launch(host=args.host, port=args.port, share=args.share, auth=args.auth, model=model, queue_size=args.queue_size,
           max_sessions=args.max_sessions, shared_models=args.shared_models, **limits)
    return 0
