"""A small threaded program with a fixed output, for the bad-input tests.
With argv[1] == 'wait' it prints 'ready' once the shim has opened its log and
then waits for a line on stdin before finishing."""
import sys
import threading


def work(i, out):
    out[i] = sum(j * (i + 1) for j in range(20000)) % 65521


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "wait":
        print("ready", flush=True)
        sys.stdin.readline()
    out = [0] * 4
    ts = [threading.Thread(target=work, args=(i, out)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print("result", out)


if __name__ == "__main__":
    main()
