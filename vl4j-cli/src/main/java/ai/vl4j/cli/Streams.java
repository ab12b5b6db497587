package ai.vl4j.cli;

import java.io.PrintStream;

/** The output streams of the running command (stdout for results, stderr for progress and errors). */
final class Streams {
    private static PrintStream out = System.out;
    private static PrintStream err = System.err;

    private Streams() {
    }

    static void set(PrintStream o, PrintStream e) {
        out = o;
        err = e;
    }

    static PrintStream out() {
        return out;
    }

    static PrintStream err() {
        return err;
    }
}
