#!/usr/bin/python3
"""Every JSON config shown in a Markdown file passes `hoplite --check`.

The README teaches configuration by example; an example that the validator refuses would teach
the wrong thing. Each ```json block is written to a temporary file and checked with the real
binary, which must exit 0.

Usage: check_readme_configs.py HOPLITE_BIN MARKDOWN_FILE...
"""
import os
import re
import subprocess
import sys
import tempfile

BLOCK = re.compile(r"```json\n(.*?)```", re.DOTALL)


def main(argv):
    hoplite, documents = argv[1], argv[2:]
    checked = failures = 0
    with tempfile.TemporaryDirectory() as scratch:
        for document in documents:
            with open(document, encoding="utf-8") as f:
                blocks = BLOCK.findall(f.read())
            for index, block in enumerate(blocks):
                path = os.path.join(scratch, f"block{checked}.json")
                with open(path, "w", encoding="utf-8") as f:
                    f.write(block)
                result = subprocess.run([hoplite, "--check", "-c", path], capture_output=True,
                                        text=True, timeout=30)
                checked += 1
                if result.returncode != 0:
                    failures += 1
                    print(f"{document}: json block {index + 1} is refused:\n{result.stderr}")
    if checked == 0:
        print("no json blocks found: the test would prove nothing")
        return 1
    print(f"{checked - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
