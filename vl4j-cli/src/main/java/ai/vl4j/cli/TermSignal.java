package ai.vl4j.cli;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;

/**
 * SIGTERM handled by the program instead of the JVM's default (run the shutdown hooks, exit with 143), so that
 * {@code vl4j serve} can drain: stop taking requests, finish those in flight, exit 0. SIGINT (Ctrl-C) keeps the
 * default. The JDK's one API for this is {@code sun.misc.Signal} of the {@code jdk.unsupported} module (kept open for
 * exactly such uses); it is reached by reflection, so the build stays free of "internal proprietary API" warnings,
 * and where it is missing {@link #onTerm} says so and the default stays.
 */
final class TermSignal implements AutoCloseable {
    private final Method handle;
    private final Object signal;
    private final Object previous;

    private TermSignal(Method handle, Object signal, Object previous) {
        this.handle = handle;
        this.signal = signal;
        this.previous = previous;
    }

    /** Runs action (on a signal-dispatch thread: it must not block long) at each SIGTERM; null when not possible here. */
    static TermSignal onTerm(Runnable action) {
        try {
            Class<?> signalClass = Class.forName("sun.misc.Signal");
            Class<?> handlerClass = Class.forName("sun.misc.SignalHandler");
            Object term = signalClass.getConstructor(String.class).newInstance("TERM");
            InvocationHandler calls = (proxy, method, args) -> switch (method.getName()) {
                case "handle" -> {
                    action.run();
                    yield null;
                }
                case "hashCode" -> System.identityHashCode(proxy);
                case "equals" -> proxy == args[0];
                default -> "vl4j SIGTERM handler";
            };
            Object handler = Proxy.newProxyInstance(handlerClass.getClassLoader(), new Class<?>[] {handlerClass}, calls);
            Method handle = signalClass.getMethod("handle", signalClass, handlerClass);
            return new TermSignal(handle, term, handle.invoke(null, term, handler));
        } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
            return null;
        }
    }

    /** Puts back the handler that was there before. */
    @Override
    public void close() {
        try {
            handle.invoke(null, signal, previous);
        } catch (ReflectiveOperationException e) {
            // the JVM is going away anyway
        }
    }
}
