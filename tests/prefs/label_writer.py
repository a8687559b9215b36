"""Child process for the multi-process store tests (run as a script, not collected).

``python label_writer.py STORE ANNOTATOR COUNT``: prints ``ready``, waits for a line on
stdin (so that two children start writing together), then adds COUNT labels to the
store's first query, each in its own transaction, printing each committed label id on
its own line right after the commit returns.
"""

from __future__ import annotations

import sys

from robopref.prefs import PreferenceStore


def main() -> None:
    path, annotator, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with PreferenceStore(path) as store:
        print("ready", flush=True)
        sys.stdin.readline()
        for i in range(count):
            label_id = store.add_label(
                1, annotator=annotator, source="scripted", value=(i % 11) / 10, note=f"{annotator} #{i}"
            )
            print(label_id, flush=True)


if __name__ == "__main__":
    main()
