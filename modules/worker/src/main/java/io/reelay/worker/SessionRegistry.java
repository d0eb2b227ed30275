package io.reelay.worker;

import io.reelay.nemo.NemoClient;
import io.reelay.protocol.Action;
import io.reelay.protocol.Event;
import io.reelay.protocol.Event.ErrorInfo;
import io.reelay.protocol.Phase;
import io.reelay.protocol.Request;
import io.reelay.protocol.RequestState;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.Terminated;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

/**
 * The parent of a worker's sessions: one supervised {@link SessionActor} per (tenant, session key),
 * spawned on demand. It holds each session's queue and hands the session one request at a time, so
 * that a session that crashes loses nothing that was waiting: the request it was working on ends
 * FAILED (it is not run again — that could pay twice), the next one starts on the restarted actor.
 * A {@code cancel} is handled the moment it arrives, never queued.
 */
public final class SessionRegistry extends AbstractBehavior<SessionRegistry.Command> {

  public sealed interface Command {}

  /** Run {@code request} in its session's order; {@code replyTo} hears once it is finished. */
  public record Submit(Request request, ActorRef<Done> replyTo) implements Command {}

  /** From a session: its request is finished (terminal event published). */
  record Finished(String session, String requestId) implements Command {}

  /** From a session, each time it (re)starts. */
  record Started(String session) implements Command {}

  private static final int MAX_RESTARTS = 3;

  /** Makes the behavior of one session (injected in tests). */
  @FunctionalInterface
  public interface SessionFactory {
    Behavior<SessionActor.Command> create(String session, Request first, ActorRef<Command> registry);
  }

  public static Behavior<Command> create(
      WorkerSettings settings, NemoClient client, EventPublisher events, StateCipher cipher) {
    return create(events, (session, first, registry) ->
        SessionActor.create(session, first.sessionKey(), first.tenantOrDefault(), settings, client, events, cipher, registry));
  }

  public static Behavior<Command> create(EventPublisher events, SessionFactory sessions) {
    return Behaviors.setup(ctx -> new SessionRegistry(ctx, events, sessions));
  }

  private final SessionFactory factory;
  private final EventPublisher events;
  private final Map<String, Slot> sessions = new HashMap<>();

  /** One session: its actor, what waits, what runs. */
  private static final class Slot {
    ActorRef<SessionActor.Command> actor;
    final Deque<Submit> queue = new ArrayDeque<>();
    Submit running;
    boolean started;
    // requests finished here, to recognise one delivered again (a rebalance, a producer retry)
    final java.util.LinkedHashSet<String> finished = new java.util.LinkedHashSet<>();

    boolean knows(String requestId) {
      return finished.contains(requestId)
          || (running != null && running.request().requestId().equals(requestId))
          || queue.stream().anyMatch(q -> q.request().requestId().equals(requestId));
    }
  }

  private static final int REMEMBERED = 1000;

  private SessionRegistry(ActorContext<Command> ctx, EventPublisher events, SessionFactory factory) {
    super(ctx);
    this.factory = factory;
    this.events = events;
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Submit.class, this::onSubmit)
        .onMessage(Finished.class, this::onFinished)
        .onMessage(Started.class, this::onStarted)
        .onSignal(Terminated.class, this::onTerminated)
        .build();
  }

  private Behavior<Command> onSubmit(Submit s) {
    Request r = s.request();
    Slot slot = sessions.computeIfAbsent(sessionId(r), k -> new Slot());
    if (slot.knows(r.requestId())) {
      // the same requestId again: it runs (or ran) once; the record's offset commits in order after it
      getContext().getLog().info("request {} delivered again; not run twice", r.requestId());
      s.replyTo().tell(Done.getInstance());
      return this;
    }
    if (r.effectiveAction() == Action.CANCEL) {
      cancel(slot, s);
      return this;
    }
    int ahead = slot.queue.size() + (slot.running == null ? 0 : 1);
    publish(r, 1, RequestState.QUEUED, ahead == 0 ? "Accepted" : "Queued behind " + ahead + " request(s) of this session", null);
    slot.queue.add(s);
    dispatch(sessionId(r), slot);
    return this;
  }

  private void cancel(Slot slot, Submit c) {
    String target = c.request().cancels();
    if (slot.running != null && slot.running.request().requestId().equals(target)) {
      slot.actor.tell(new SessionActor.Handle(c.request(), c.replyTo()));
      return;
    }
    for (Submit q : slot.queue) {
      if (q.request().requestId().equals(target)) {
        slot.queue.remove(q);
        remember(slot, q.request().requestId());
        publish(q.request(), 2, RequestState.CANCELLED, "Cancelled before it started", null)
            .whenComplete((ok, err) -> q.replyTo().tell(Done.getInstance()));
        publish(c.request(), 1, RequestState.COMPLETED, "Cancelled " + target, null)
            .whenComplete((ok, err) -> c.replyTo().tell(Done.getInstance()));
        return;
      }
    }
    String msg = "Nothing to cancel: " + target + " is not running or queued in this session";
    publish(c.request(), 1, RequestState.FAILED, msg,
            new ErrorInfo("NOT_CANCELLABLE", msg, false, "It may have finished already: check its status"))
        .whenComplete((ok, err) -> c.replyTo().tell(Done.getInstance()));
  }

  private void dispatch(String session, Slot slot) {
    if (slot.running != null || slot.queue.isEmpty()) {
      return;
    }
    if (slot.actor == null) {
      slot.actor = spawn(session, slot.queue.peek().request());
    }
    slot.running = slot.queue.poll();
    slot.actor.tell(new SessionActor.Handle(slot.running.request(), slot.running.replyTo()));
  }

  private Behavior<Command> onFinished(Finished f) {
    Slot slot = sessions.get(f.session());
    if (slot != null && slot.running != null && slot.running.request().requestId().equals(f.requestId())) {
      slot.running = null;
      remember(slot, f.requestId());
      dispatch(f.session(), slot);
    }
    return this;
  }

  private Behavior<Command> onStarted(Started s) {
    Slot slot = sessions.get(s.session());
    if (slot == null) {
      return this;
    }
    if (slot.started) {
      // a restart after a crash: whatever ran is lost with the old incarnation
      abandonRunning(s.session(), slot, "the session crashed while working on this request");
    }
    slot.started = true;
    return this;
  }

  private Behavior<Command> onTerminated(Terminated t) {
    sessions.forEach((session, slot) -> {
      if (t.getRef().equals(slot.actor)) {
        slot.actor = null;
        slot.started = false;
        abandonRunning(session, slot, "the session crashed " + MAX_RESTARTS + " times and was stopped");
      }
    });
    return this;
  }

  private void abandonRunning(String session, Slot slot, String reason) {
    Submit lost = slot.running;
    slot.running = null;
    if (lost != null) {
      remember(slot, lost.request().requestId());
      Request r = lost.request();
      getContext().getLog().error("request {} of session {}: {}", r.requestId(), session, reason);
      publish(r, events.nextSeq(r.requestId()), RequestState.FAILED, "Failed: " + reason,
              new ErrorInfo("SESSION_CRASHED", reason, true,
                  "It was not run again, to avoid paying twice; check the session state, then resubmit under a new requestId"))
          .whenComplete((ok, err) -> lost.replyTo().tell(Done.getInstance()));
    }
    dispatch(session, slot);
  }

  private static void remember(Slot slot, String requestId) {
    slot.finished.add(requestId);
    if (slot.finished.size() > REMEMBERED) {
      slot.finished.remove(slot.finished.iterator().next());
    }
  }

  private ActorRef<SessionActor.Command> spawn(String session, Request r) {
    Behavior<SessionActor.Command> behavior =
        Behaviors.supervise(factory.create(session, r, getContext().getSelf()))
            .onFailure(
                SupervisorStrategy.restartWithBackoff(Duration.ofMillis(200), Duration.ofSeconds(10), 0.2)
                    .withMaxRestarts(MAX_RESTARTS));
    ActorRef<SessionActor.Command> ref = getContext().spawnAnonymous(behavior);
    getContext().watch(ref);
    return ref;
  }

  private CompletionStage<Void> publish(Request r, long seq, RequestState state, String message, ErrorInfo error) {
    return events.publish(new Event(Event.VERSION, r.requestId(), r.sessionKey(), r.tenantOrDefault(), seq, Instant.now(),
        state, state == RequestState.QUEUED ? Phase.QUEUED : Phase.DONE, message, null, null, error));
  }

  /** Sessions of different tenants never share an actor, even under the same key. */
  private static String sessionId(Request r) {
    return r.tenantOrDefault() + "/" + r.sessionKey();
  }
}
