package io.reelay.worker;

import io.opentelemetry.context.Context;
import io.opentelemetry.context.Scope;
import java.util.Map;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.BehaviorInterceptor;
import org.apache.pekko.actor.typed.TypedActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/**
 * What surrounds every message a session handles: the log's MDC and the request's trace. Every line
 * the session logs carries its tenant and sessionKey, and the requestId it is working on (the one a
 * Handle brings, else the one in hand); that request's trace is current meanwhile, so the backend
 * calls and events the session starts (a timer's render poll too) are part of it.
 */
final class SessionContext {

  private SessionContext() {}

  /** {@code session} with its MDC and its request's trace around each message. */
  static Behavior<SessionActor.Command> around(Behavior<SessionActor.Command> session, SessionMemory memory) {
    return Behaviors.withMdc(SessionActor.Command.class,
        Map.of("tenant", memory.tenant(), "sessionKey", memory.sessionKey()),
        m -> {
          String id = m instanceof SessionActor.Handle h ? h.request().requestId() : memory.running();
          return id == null ? Map.of() : Map.of("requestId", id);
        },
        Behaviors.intercept(() -> new CurrentTrace(memory), session));
  }

  /** Makes the trace of the request a message is about current while the session handles it. */
  private static final class CurrentTrace extends BehaviorInterceptor<SessionActor.Command, SessionActor.Command> {
    private final SessionMemory memory;

    CurrentTrace(SessionMemory memory) {
      super(SessionActor.Command.class);
      this.memory = memory;
    }

    @Override
    public Behavior<SessionActor.Command> aroundReceive(TypedActorContext<SessionActor.Command> ctx, SessionActor.Command msg,
        ReceiveTarget<SessionActor.Command> target) {
      Context trace = msg instanceof SessionActor.Handle h ? h.origin().trace() : memory.trace();
      try (Scope ignored = trace.makeCurrent()) {
        return target.apply(ctx, msg);
      }
    }
  }
}
