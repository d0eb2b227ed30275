package io.reelay.worker;

import io.reelay.nemo.NemoClient;
import io.reelay.protocol.Request;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.Terminated;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

/** Spawns one supervised {@link SessionActor} per session key on demand and routes requests to it. */
public final class SessionRegistry extends AbstractBehavior<SessionActor.Command> {

  public static Behavior<SessionActor.Command> create(
      WorkerSettings settings, NemoClient client, EventPublisher events) {
    return Behaviors.setup(ctx -> new SessionRegistry(ctx, settings, client, events));
  }

  private final WorkerSettings settings;
  private final NemoClient client;
  private final EventPublisher events;
  private final Map<String, ActorRef<SessionActor.Command>> sessions = new HashMap<>();

  private SessionRegistry(
      ActorContext<SessionActor.Command> ctx, WorkerSettings settings, NemoClient client, EventPublisher events) {
    super(ctx);
    this.settings = settings;
    this.client = client;
    this.events = events;
  }

  @Override
  public Receive<SessionActor.Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(SessionActor.Handle.class, this::onHandle)
        .onSignal(Terminated.class, this::onTerminated)
        .build();
  }

  private Behavior<SessionActor.Command> onHandle(SessionActor.Handle h) {
    Request r = h.request();
    sessions.computeIfAbsent(sessionId(r), k -> spawn(r)).tell(h);
    return this;
  }

  private ActorRef<SessionActor.Command> spawn(Request r) {
    Behavior<SessionActor.Command> session =
        Behaviors.supervise(SessionActor.create(r.sessionKey(), r.tenantOrDefault(), settings, client, events))
            .onFailure(
                SupervisorStrategy.restartWithBackoff(Duration.ofSeconds(1), Duration.ofSeconds(30), 0.2)
                    .withMaxRestarts(3));
    ActorRef<SessionActor.Command> ref =
        getContext().spawn(session, "session-" + URLEncoder.encode(sessionId(r), StandardCharsets.UTF_8));
    getContext().watch(ref);
    return ref;
  }

  private Behavior<SessionActor.Command> onTerminated(Terminated t) {
    sessions.values().removeIf(ref -> ref.equals(t.getRef()));
    return this;
  }

  /** Sessions of different tenants never share an actor, even under the same key. */
  private static String sessionId(Request r) {
    return r.tenantOrDefault() + "/" + r.sessionKey();
  }
}
