package io.reelay.worker;

import io.reelay.nemo.NemoClient;
import io.reelay.protocol.Action;
import io.reelay.protocol.Event;
import io.reelay.protocol.Request;
import io.reelay.protocol.SessionSnapshot;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.Terminated;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;

/**
 * The parent of a worker's sessions: one supervised {@link SessionActor} per (tenant, session key),
 * spawned on demand, restored from its snapshot when a previous owner left one. It holds each
 * session's queue and hands the session one request at a time, so that a session that crashes
 * loses nothing that was waiting: the restarted actor resumes the request it was working on from
 * the session's last snapshot (never paying twice); after {@value #MAX_RESTARTS} crashes that
 * request ends FAILED and the queue carries on with a fresh actor. A {@code cancel} is handled the
 * moment it arrives, never queued.
 *
 * <p>A session with nothing to do for {@code idleTimeout} is passivated: its actor stops, and what
 * the session must remember (identity, finished request ids) stays behind as its snapshot, from
 * which the next request's actor starts. Live actors are thus bounded by the requests in hand, not
 * by every session the worker has ever seen.
 *
 * <p>Every {@link Submit} is answered once with an {@link Outcome}: FINISHED when its terminal
 * event is written (its offset may be committed), RELEASED when its partition was handed over
 * first (it must not be committed: the next owner resumes it from the session's snapshot).
 */
public final class SessionRegistry extends AbstractBehavior<SessionRegistry.Command> {

  public sealed interface Command {}

  /**
   * Where a request was read. {@code replayed}: a previous owner of the partition may have seen it.
   * {@code epoch}: the partition's hand-over epoch in the worker when the record was read (see
   * {@code Worker}; -1: none).
   */
  public record Origin(int partition, long offset, boolean replayed, long epoch) {
    public static final Origin NONE = new Origin(-1, -1, false, -1);
  }

  public enum Outcome {
    FINISHED,
    RELEASED
  }

  /** Run {@code request} in its session's order; {@code replyTo} hears once, when it is finished or released. */
  public record Submit(Request request, Origin origin, ActorRef<Outcome> replyTo) implements Command {
    public Submit(Request request, ActorRef<Outcome> replyTo) {
      this(request, Origin.NONE, replyTo);
    }
  }

  /** A partition was assigned: its sessions continue from these snapshots (keyed by snapshot key). */
  public record Restore(int partition, Map<String, SessionSnapshot> snapshots, ActorRef<Done> replyTo) implements Command {}

  /**
   * Hand sessions over: those of {@code partitions} (revoked or lost), or all of them when {@code
   * all} (the worker stops, and accepts nothing more). Each writes its snapshot and stops; their
   * requests are answered RELEASED. {@code replyTo} hears once every snapshot is sent.
   */
  public record Release(Set<Integer> partitions, boolean all, ActorRef<Done> replyTo, Map<Integer, Long> epochs) implements Command {}

  /** From a session: this request is finished (terminal event published). */
  record Finished(String session, String requestId) implements Command {}

  /** From a session, each time it (re)starts. */
  record Started(String session) implements Command {}

  /** A session's idle time is up: stop its actor if it is still idle. */
  private record Passivate(String session) implements Command {}

  private static final int MAX_RESTARTS = 3;

  /**
   * Makes the behavior of one session (injected in tests). {@code memory} is what the session
   * remembers (its latest snapshot): the session keeps it current, and each (re)start begins from it.
   */
  @FunctionalInterface
  public interface SessionFactory {
    Behavior<SessionActor.Command> create(String session, Request first, SessionMemory memory, ActorRef<Command> registry);
  }

  public static Behavior<Command> create(WorkerSettings settings, NemoClient client, EventPublisher events, StateCipher cipher) {
    RequestEvents requestEvents = new RequestEvents(events);
    return create(events, settings.handoverTimeout(), settings.sessionIdleTimeout(),
        (session, first, memory, registry) -> SessionActor.create(session, memory, settings, client, requestEvents, cipher, registry));
  }

  public static Behavior<Command> create(
      EventPublisher events, Duration handoverTimeout, Duration idleTimeout, SessionFactory sessions) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers ->
        new SessionRegistry(ctx, timers, events, handoverTimeout, idleTimeout, sessions)));
  }

  private final SessionFactory factory;
  private final EventPublisher out;
  private final RequestEvents events;
  private final Duration handoverTimeout;
  private final Duration idleTimeout;
  private final TimerScheduler<Command> timers;
  private final Map<String, Slot> sessions = new HashMap<>();
  // per partition, the hand-over epoch it was last released in: a record read before that (still on
  // its way through the worker's stream when the partition was revoked) belongs to the next owner
  private final Map<Integer, Long> releasedIn = new HashMap<>();
  private boolean closing;

  /** A request in hand, with everyone waiting for it (a record delivered twice waits on the first). */
  private static final class Pending {
    final Request request;
    final Origin origin;
    final List<ActorRef<Outcome>> waiters = new ArrayList<>();
    long firstSeq;
    boolean resume;

    Pending(Submit s) {
      this.request = s.request();
      this.origin = s.origin();
      waiters.add(s.replyTo());
    }

    String id() {
      return request.requestId();
    }

    void answer(Outcome o) {
      waiters.forEach(w -> w.tell(o));
    }
  }

  /** One session: its actor, what waits, what runs, what it remembers. */
  private static final class Slot {
    final int partition;
    final SessionMemory memory;
    ActorRef<SessionActor.Command> actor;
    boolean started;
    final Deque<Pending> queue = new ArrayDeque<>();
    Pending running;
    final Map<String, Pending> cancels = new HashMap<>(); // handed to the actor
    String inFlightAtLastOwner;

    Slot(int partition, SessionMemory memory) {
      this.partition = partition;
      this.memory = memory;
    }

    boolean idle() {
      return running == null && queue.isEmpty() && cancels.isEmpty();
    }

    Pending find(String requestId) {
      if (running != null && running.id().equals(requestId)) {
        return running;
      }
      if (cancels.containsKey(requestId)) {
        return cancels.get(requestId);
      }
      return queue.stream().filter(q -> q.id().equals(requestId)).findFirst().orElse(null);
    }

    /** Finished here or by a previous owner: by its id, or (a session runs its requests in offset order) by its offset. */
    boolean done(String requestId, Origin origin) {
      return memory.remembers(requestId)
          || (origin.offset() >= 0 && origin.offset() <= memory.doneThrough() && !requestId.equals(inFlightAtLastOwner));
    }
  }

  private SessionRegistry(ActorContext<Command> ctx, TimerScheduler<Command> timers, EventPublisher events,
      Duration handoverTimeout, Duration idleTimeout, SessionFactory factory) {
    super(ctx);
    this.factory = factory;
    this.out = events;
    this.events = new RequestEvents(events);
    this.handoverTimeout = handoverTimeout;
    this.idleTimeout = idleTimeout;
    this.timers = timers;
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Submit.class, this::onSubmit)
        .onMessage(Restore.class, this::onRestore)
        .onMessage(Release.class, this::onRelease)
        .onMessage(Finished.class, this::onFinished)
        .onMessage(Started.class, this::onStarted)
        .onMessage(Passivate.class, this::onPassivate)
        .onSignal(Terminated.class, this::onTerminated)
        .build();
  }

  // ------------------------------------------------------------------ hand-over

  private Behavior<Command> onRestore(Restore r) {
    int restoredSessions = 0;
    for (SessionSnapshot s : r.snapshots().values()) {
      String id = sessionId(s.tenant(), s.sessionKey());
      if (sessions.containsKey(id)) {
        continue; // still live here: what it holds is newer than its snapshot
      }
      Slot slot = new Slot(r.partition(), new SessionMemory(s.sessionKey(), s.tenant(), s, r.partition(), out));
      slot.inFlightAtLastOwner = s.inFlight() == null ? null : s.inFlight().requestId();
      sessions.put(id, slot);
      restoredSessions++;
    }
    getContext().getLog().info("partition {}: {} session(s) restored from snapshots", r.partition(), restoredSessions);
    r.replyTo().tell(Done.getInstance());
    return this;
  }

  private Behavior<Command> onRelease(Release r) {
    closing |= r.all();
    r.epochs().forEach((p, e) -> releasedIn.merge(p, e, Math::max));
    List<CompletionStage<Done>> snapshots = new ArrayList<>();
    Iterator<Map.Entry<String, Slot>> it = sessions.entrySet().iterator();
    while (it.hasNext()) {
      Slot slot = it.next().getValue();
      if (!r.all() && !r.partitions().contains(slot.partition)) {
        continue;
      }
      it.remove();
      if (slot.actor != null) {
        getContext().unwatch(slot.actor); // its stop is a hand-over, not a crash
        ActorRef<SessionActor.Command> actor = slot.actor;
        snapshots.add(AskPattern.<SessionActor.Command, Done>ask(
                actor, SessionActor.Release::new, handoverTimeout, getContext().getSystem().scheduler())
            .exceptionally(e -> Done.getInstance()));
      }
      if (slot.running != null) {
        slot.running.answer(Outcome.RELEASED);
      }
      slot.queue.forEach(p -> p.answer(Outcome.RELEASED));
      slot.cancels.values().forEach(p -> p.answer(Outcome.RELEASED));
    }
    ActorRef<Done> replyTo = r.replyTo();
    CompletableFuture.allOf(snapshots.stream().map(CompletionStage::toCompletableFuture).toArray(CompletableFuture[]::new))
        .whenComplete((ok, err) -> replyTo.tell(Done.getInstance()));
    return this;
  }

  // ------------------------------------------------------------------ requests

  private Behavior<Command> onSubmit(Submit s) {
    Request r = s.request();
    if (closing) {
      s.replyTo().tell(Outcome.RELEASED); // stopping: the next owner takes it
      return this;
    }
    Origin o = s.origin();
    if (o.epoch() >= 0 && o.epoch() < releasedIn.getOrDefault(o.partition(), -1L)) {
      // read before its partition was handed over: the next owner reads it again and runs it
      s.replyTo().tell(Outcome.RELEASED);
      return this;
    }
    String session = sessionId(r.tenantOrDefault(), r.sessionKey());
    Slot slot = sessions.computeIfAbsent(session, k -> new Slot(o.partition(),
        new SessionMemory(r.sessionKey(), r.tenantOrDefault(), null, o.partition(), out)));
    Pending known = slot.find(r.requestId());
    if (known != null) {
      // delivered again while in hand: it runs once; this copy is answered with the first
      known.waiters.add(s.replyTo());
      return this;
    }
    if (slot.done(r.requestId(), o)) {
      Event pending = slot.memory.takePendingTerminal(r.requestId());
      if (pending != null) {
        // the previous owner stopped between recording its end and hearing Kafka take the terminal
        // event: publish it (the same event, the same seq) rather than run the request again
        getContext().getLog().info("request {} delivered again; it finished, its terminal event is published again", r.requestId());
        ActorRef<Outcome> replyTo = s.replyTo();
        events.republish(pending, r.callbackUrl()).whenComplete((ok, err) -> replyTo.tell(err == null ? Outcome.FINISHED : Outcome.RELEASED));
        return this;
      }
      getContext().getLog().info("request {} delivered again; it finished already, not run twice", r.requestId());
      s.replyTo().tell(Outcome.FINISHED);
      return this;
    }
    Pending p = new Pending(s);
    if (r.effectiveAction() == Action.CANCEL) {
      cancel(session, slot, p);
      return this;
    }
    if (r.requestId().equals(slot.inFlightAtLastOwner)) {
      // the previous owner was working on it: resume (its snapshot says how), no second QUEUED
      slot.inFlightAtLastOwner = null;
      p.resume = true;
      slot.queue.addFirst(p);
    } else {
      p.firstSeq = events.queued(r, o.replayed(), slot.queue.size() + (slot.running == null ? 0 : 1));
      slot.queue.add(p);
    }
    dispatch(session, slot);
    return this;
  }

  private void cancel(String session, Slot slot, Pending c) {
    String target = c.request.cancels();
    if (slot.running != null && slot.running.id().equals(target)) {
      slot.cancels.put(c.id(), c);
      slot.actor.tell(new SessionActor.Handle(c.request, c.origin, 1, false));
      return;
    }
    for (Pending q : slot.queue) {
      if (q.id().equals(target) && !q.resume) {
        slot.queue.remove(q);
        slot.memory.remember(q.id(), null, null);
        slot.memory.remember(c.id(), null, null);
        events.cancelledBeforeStart(q.request, q.firstSeq).whenComplete((ok, err) -> q.answer(err == null ? Outcome.FINISHED : Outcome.RELEASED));
        events.cancelDone(c.request).whenComplete((ok, err) -> c.answer(err == null ? Outcome.FINISHED : Outcome.RELEASED));
        return;
      }
    }
    slot.memory.remember(c.id(), null, null);
    events.notCancellable(c.request, "is not running or queued in this session").whenComplete((ok, err) -> c.answer(err == null ? Outcome.FINISHED : Outcome.RELEASED));
  }

  private void dispatch(String session, Slot slot) {
    if (slot.running != null || slot.queue.isEmpty()) {
      return;
    }
    if (slot.actor == null) {
      slot.actor = spawn(session, slot.queue.peek().request, slot.memory);
    }
    slot.running = slot.queue.poll();
    slot.actor.tell(new SessionActor.Handle(slot.running.request, slot.running.origin, slot.running.firstSeq, slot.running.resume));
  }

  private Behavior<Command> onFinished(Finished f) {
    Slot slot = sessions.get(f.session());
    if (slot == null) {
      return this;
    }
    Pending cancel = slot.cancels.remove(f.requestId());
    if (cancel != null || (slot.running != null && slot.running.id().equals(f.requestId()))) {
      slot.memory.remember(f.requestId(), null, null); // the session wrote it as it finished: then nothing to do
    }
    if (cancel != null) {
      cancel.answer(Outcome.FINISHED);
    } else if (slot.running != null && slot.running.id().equals(f.requestId())) {
      slot.running.answer(Outcome.FINISHED);
      slot.running = null;
      dispatch(f.session(), slot);
    }
    if (slot.idle() && slot.actor != null) {
      timers.startSingleTimer(f.session(), new Passivate(f.session()), idleTimeout);
    }
    return this;
  }

  private Behavior<Command> onPassivate(Passivate p) {
    Slot slot = sessions.get(p.session());
    if (slot != null && slot.actor != null && slot.idle()) {
      // its snapshot (slot.memory) is current: the session's last request wrote it as it finished
      getContext().unwatch(slot.actor);
      getContext().stop(slot.actor);
      slot.actor = null;
      slot.started = false;
    }
    return this;
  }

  // ------------------------------------------------------------------ crashes

  private Behavior<Command> onStarted(Started s) {
    Slot slot = sessions.get(s.session());
    if (slot == null) {
      return this;
    }
    if (slot.started && slot.running != null) {
      // a restart after a crash: the new incarnation resumes the request from the session's last
      // snapshot, as a new owner would (a render is polled again, a cut stream is never re-sent)
      Pending p = slot.running;
      getContext().getLog().warn("session {} restarted after a crash; resuming request {}", s.session(), p.id());
      p.resume = true;
      p.firstSeq = events.resumeFrom(p.id(), p.firstSeq);
      slot.actor.tell(new SessionActor.Handle(p.request, p.origin, p.firstSeq, true));
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
    Pending lost = slot.running;
    slot.running = null;
    if (lost != null) {
      slot.memory.remember(lost.id(), null, null);
      getContext().getLog().error("request {} of session {}: {}", lost.id(), session, reason);
      events.crashed(lost.request, lost.firstSeq, reason).whenComplete((ok, err) -> lost.answer(err == null ? Outcome.FINISHED : Outcome.RELEASED));
    }
    dispatch(session, slot);
  }

  private ActorRef<SessionActor.Command> spawn(String session, Request r, SessionMemory memory) {
    Behavior<SessionActor.Command> behavior =
        Behaviors.supervise(factory.create(session, r, memory, getContext().getSelf()))
            .onFailure(
                SupervisorStrategy.restartWithBackoff(Duration.ofMillis(200), Duration.ofSeconds(10), 0.2)
                    .withMaxRestarts(MAX_RESTARTS));
    ActorRef<SessionActor.Command> ref = getContext().spawnAnonymous(behavior);
    getContext().watch(ref);
    return ref;
  }

  /** Sessions of different tenants never share an actor, even under the same key. */
  static String sessionId(String tenant, String sessionKey) {
    return EventPublisher.snapshotKey(tenant, sessionKey);
  }
}
