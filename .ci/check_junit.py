"""CI: fail unless pytest's JUnit report shows tests ran and none was skipped."""

import sys
import xml.etree.ElementTree as ET


def main(path: str) -> int:
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    tests = sum(int(suite.get("tests", 0)) for suite in suites)
    skipped = sum(int(suite.get("skipped", 0)) for suite in suites)
    if tests == 0 or skipped:
        print(f"ci: {tests} tests ran, {skipped} skipped: CI allows no skip and no empty run")
        return 1
    print(f"ci: {tests} tests, none skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
