package io.reelay.worker;

import io.opentelemetry.context.Context;
import io.opentelemetry.context.Scope;
import io.reelay.nemo.NemoClient;
import io.reelay.protocol.Action;
import io.reelay.protocol.Event;
import io.reelay.protocol.Request;
import io.reelay.protocol.SessionSnapshot;
import io.reelay.worker.SessionSlot.Pending;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.IntConsumer;
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
 * <p>A session with nothing to do for {@code idleTimeout} is passivated: its actor stops and, once
 * what it must remember (identity, finished request ids) is on the sessions topic, it leaves the
 * heap but for its place in the {@link SnapshotIndex}. Its next request waits while its snapshot is
 * read back ({@link SessionSnapshots}), then runs from it. The heap thus holds the sessions in hand, not
 * every session the worker has seen.
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
   * {@code Worker}; -1: none). {@code trace}: the trace the request is handled in (see {@link
   * io.reelay.protocol.KafkaTracing}); current while the registry and the session work on it.
   */
  public record Origin(int partition, long offset, boolean replayed, long epoch, Context trace) {
    public static final Origin NONE = new Origin(-1, -1, false, -1);

    public Origin(int partition, long offset, boolean replayed, long epoch) {
      this(partition, offset, replayed, epoch, Context.root());
    }
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

  /** A session's snapshot was read back (empty: it has none), or could not be ({@code failure}). */
  private record Loaded(String session, int partition, Optional<SessionSnapshot> snapshot, Throwable failure) implements Command {}

  /** Read a session's snapshot back again, after a failed read. */
  private record Reload(String session, int partition) implements Command {}

  /** A stop's grace for the requests in hand is over. */
  private enum GraceOver implements Command { INSTANCE }

  private static final int MAX_RESTARTS = 3;

  /** How soon a passivation looks again at a snapshot write on its way, and a failed read is tried again. */
  private static final Duration SETTLE_CHECK = Duration.ofSeconds(1);

  /**
   * Makes the behavior of one session (injected in tests). {@code memory} is what the session
   * remembers (its latest snapshot): the session keeps it current, and each (re)start begins from it.
   */
  @FunctionalInterface
  public interface SessionFactory {
    Behavior<SessionActor.Command> create(String session, Request first, SessionMemory memory, ActorRef<Command> registry);
  }

  /** {@code resident}: told how many sessions the heap holds, whenever that changes. */
  static Behavior<Command> create(WorkerSettings settings, NemoClient client, EventPublisher events, StateCipher cipher,
      SessionSnapshots snapshots, IntConsumer resident) {
    RequestEvents requestEvents = new RequestEvents(events);
    SessionFactory sessions =
        (session, first, memory, registry) -> SessionActor.create(session, memory, settings, client, requestEvents, cipher, registry);
    // one RequestEvents for the registry and its sessions: one list of terminal events not yet taken
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> new SessionRegistry(ctx, timers, events, requestEvents,
        settings.handoverTimeout(), settings.sessionIdleTimeout(), settings.stopGrace(), sessions, snapshots, resident)));
  }

  /** A registry whose stop hands over at once (no grace), whose sessions stay in the heap once seen. */
  public static Behavior<Command> create(
      EventPublisher events, Duration handoverTimeout, Duration idleTimeout, SessionFactory sessions) {
    return create(events, handoverTimeout, idleTimeout, sessions, SessionSnapshots.NONE);
  }

  /** The same, whose idle sessions leave the heap for {@code snapshots}. */
  static Behavior<Command> create(
      EventPublisher events, Duration handoverTimeout, Duration idleTimeout, SessionFactory sessions, SessionSnapshots snapshots) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> new SessionRegistry(ctx, timers, events, new RequestEvents(events),
        handoverTimeout, idleTimeout, Duration.ZERO, sessions, snapshots, n -> {})));
  }

  private final SessionFactory factory;
  private final EventPublisher out;
  private final RequestEvents events;
  private final Duration handoverTimeout;
  private final Duration idleTimeout;
  private final TimerScheduler<Command> timers;
  private final Map<String, SessionSlot> sessions = new HashMap<>();
  private final SessionSnapshots snapshots;
  private final IntConsumer resident;
  // sessions whose snapshot is being read back, with the requests that came for them meanwhile, in order
  private final Map<String, List<Submit>> loading = new HashMap<>();
  // per partition, the hand-over epoch it was last released in: a record read before that (still on
  // its way through the worker's stream when the partition was revoked) belongs to the next owner
  private final Map<Integer, Long> releasedIn = new HashMap<>();
  private boolean closing;
  private final Duration stopGrace;
  private Release stopping; // a stop waiting for the requests in hand (at most stopGrace)

  private SessionRegistry(ActorContext<Command> ctx, TimerScheduler<Command> timers, EventPublisher out, RequestEvents events,
      Duration handoverTimeout, Duration idleTimeout, Duration stopGrace, SessionFactory factory, SessionSnapshots snapshots,
      IntConsumer resident) {
    super(ctx);
    this.snapshots = snapshots;
    this.resident = resident;
    this.stopGrace = stopGrace;
    this.factory = factory;
    this.out = out;
    this.events = events;
    this.handoverTimeout = handoverTimeout;
    this.idleTimeout = idleTimeout;
    this.timers = timers;
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Submit.class, this::onSubmit)
        .onMessage(Loaded.class, this::onLoaded)
        .onMessage(Reload.class, r -> load(r.session(), r.partition()))
        .onMessage(Release.class, this::onRelease)
        .onMessage(Finished.class, this::onFinished)
        .onMessage(Started.class, this::onStarted)
        .onMessage(Passivate.class, this::onPassivate)
        .onMessage(GraceOver.class, g -> releaseAfterGrace())
        .onSignal(Terminated.class, this::onTerminated)
        .build();
  }

  // ------------------------------------------------------------------ hand-over

  private Behavior<Command> onRelease(Release r) {
    long inHand = sessions.values().stream().filter(s -> s.running != null).count();
    if (r.all() && !closing && inHand > 0 && !stopGrace.isZero() && !stopGrace.isNegative()) {
      // a graceful stop: nothing new starts; what runs may finish (an open stream answered, not cut)
      closing = true;
      stopping = r;
      timers.startSingleTimer(GraceOver.INSTANCE, GraceOver.INSTANCE, stopGrace);
      getContext().getLog().info("stopping: {} request(s) in hand may finish within {}", inHand, stopGrace);
      return this;
    }
    closing |= r.all();
    r.epochs().forEach((p, e) -> releasedIn.merge(p, e, Math::max));
    List<CompletionStage<Done>> snapshots = new ArrayList<>();
    Iterator<Map.Entry<String, SessionSlot>> it = sessions.entrySet().iterator();
    while (it.hasNext()) {
      SessionSlot slot = it.next().getValue();
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
    resident.accept(sessions.size());
    // requests waiting for a snapshot read go back too: the next owner reads it
    loading.entrySet().removeIf(e -> {
      List<Submit> waiting = e.getValue();
      if (!r.all() && !r.partitions().contains(waiting.get(0).origin().partition())) {
        return false;
      }
      waiting.forEach(w -> w.replyTo().tell(Outcome.RELEASED));
      return true;
    });
    ActorRef<Done> replyTo = r.replyTo();
    CompletableFuture.allOf(snapshots.stream().map(CompletionStage::toCompletableFuture).toArray(CompletableFuture[]::new))
        .whenComplete((ok, err) -> replyTo.tell(Done.getInstance()));
    return this;
  }

  // ------------------------------------------------------------------ requests

  private Behavior<Command> onSubmit(Submit s) {
    try (Scope ignored = s.origin().trace().makeCurrent()) { // the events made here belong to its trace
      return submit(s);
    }
  }

  private Behavior<Command> submit(Submit s) {
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
    List<Submit> waiting = loading.get(session);
    if (waiting != null) {
      waiting.add(s); // behind the requests that wait for the session's snapshot
      return this;
    }
    SessionSlot slot = sessions.get(session);
    if (slot == null) {
      if (o.partition() >= 0 && snapshots.has(o.partition(), session)) {
        // it left the heap: read what it remembers back first; meanwhile its requests wait, in order
        loading.put(session, new ArrayList<>(List.of(s)));
        return load(session, o.partition());
      }
      slot = new SessionSlot(o.partition(), new SessionMemory(r.sessionKey(), r.tenantOrDefault(), null, o.partition(), out));
      sessions.put(session, slot);
      resident.accept(sessions.size());
    }
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
      int ahead = slot.queue.size() + (slot.running == null ? 0 : 1);
      events.queueDepth().record(ahead);
      p.firstSeq = events.queued(r, o.replayed(), ahead);
      slot.queue.add(p);
    }
    dispatch(session, slot);
    return this;
  }

  private void cancel(String session, SessionSlot slot, Pending c) {
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

  private void dispatch(String session, SessionSlot slot) {
    if (slot.running != null || slot.queue.isEmpty() || closing) {
      return;
    }
    if (slot.actor == null) {
      slot.actor = spawn(session, slot.queue.peek().request, slot.memory);
    }
    slot.running = slot.queue.poll();
    slot.memory.running(slot.running.id(), slot.running.origin.trace());
    slot.actor.tell(new SessionActor.Handle(slot.running.request, slot.running.origin, slot.running.firstSeq, slot.running.resume));
  }

  private Behavior<Command> onFinished(Finished f) {
    SessionSlot slot = sessions.get(f.session());
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
      slot.memory.running(null, null);
      dispatch(f.session(), slot);
    }
    if (slot.idle() && slot.actor != null) {
      timers.startSingleTimer(f.session(), new Passivate(f.session()), idleTimeout);
    }
    return stopping != null && sessions.values().stream().noneMatch(s -> s.running != null) ? releaseAfterGrace() : this;
  }

  /** The stop waiting for the requests in hand goes on: they finished, or the grace is over. */
  private Behavior<Command> releaseAfterGrace() {
    Release r = stopping;
    stopping = null;
    timers.cancel(GraceOver.INSTANCE);
    return r == null ? this : onRelease(r);
  }

  private Behavior<Command> onPassivate(Passivate p) {
    SessionSlot slot = sessions.get(p.session());
    if (slot == null || !slot.idle()) {
      return this;
    }
    if (slot.actor != null) {
      // its snapshot (slot.memory) is current: the session's last request wrote it as it finished
      getContext().unwatch(slot.actor);
      getContext().stop(slot.actor);
      slot.actor = null;
      slot.started = false;
    }
    SessionMemory memory = slot.memory;
    if (!memory.remembersAnything() || (memory.settled() && snapshots.has(slot.partition, p.session()))) {
      // nothing to keep, or all of it on the sessions topic where the index finds it: out of the heap
      sessions.remove(p.session());
      resident.accept(sessions.size());
    } else if (snapshots != SessionSnapshots.NONE && slot.partition >= 0) {
      memory.writeOut(); // a write still on its way (or never made): look again once Kafka took it
      timers.startSingleTimer(p.session(), p, SETTLE_CHECK);
    }
    return this;
  }

  // ------------------------------------------------------------------ sessions read back

  private Behavior<Command> load(String session, int partition) {
    getContext().pipeToSelf(snapshots.read(partition, session),
        (snapshot, failure) -> new Loaded(session, partition, snapshot, failure));
    return this;
  }

  private Behavior<Command> onLoaded(Loaded l) {
    if (!loading.containsKey(l.session())) {
      return this; // its partition was handed over meanwhile (its requests were released)
    }
    if (l.failure() != null) {
      getContext().getLog().warn("reading the snapshot of session {} back failed ({}); trying again in {}", l.session(),
          l.failure().toString(), SETTLE_CHECK);
      timers.startSingleTimer("reload " + l.session(), new Reload(l.session(), l.partition()), SETTLE_CHECK);
      return this;
    }
    List<Submit> waiting = loading.remove(l.session());
    Request first = waiting.get(0).request();
    SessionSnapshot s = l.snapshot().orElse(null);
    SessionSlot slot = new SessionSlot(l.partition(),
        new SessionMemory(first.sessionKey(), first.tenantOrDefault(), s, l.partition(), out));
    slot.inFlightAtLastOwner = s == null || s.inFlight() == null ? null : s.inFlight().requestId();
    sessions.put(l.session(), slot);
    resident.accept(sessions.size());
    for (Submit w : waiting) {
      onSubmit(w); // in the order they came
    }
    return this;
  }

  // ------------------------------------------------------------------ crashes

  private Behavior<Command> onStarted(Started s) {
    SessionSlot slot = sessions.get(s.session());
    if (slot == null) {
      return this;
    }
    if (slot.started && slot.running != null) {
      // a restart after a crash: the new incarnation resumes the request from the session's last
      // snapshot, as a new owner would (a render is polled again, a cut stream is never re-sent)
      Pending p = slot.running;
      getContext().getLog().warn("session {} restarted after a crash; resuming request {}", s.session(), p.id());
      p.resume = true;
      p.firstSeq = events.resumeFrom(p.request, p.firstSeq);
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

  private void abandonRunning(String session, SessionSlot slot, String reason) {
    Pending lost = slot.running;
    slot.running = null;
    slot.memory.running(null, null);
    if (lost != null) {
      slot.memory.remember(lost.id(), null, null);
      getContext().getLog().error("request {} of session {}: {}", lost.id(), session, reason);
      try (Scope ignored = lost.origin.trace().makeCurrent()) {
        events.crashed(lost.request, lost.firstSeq, reason).whenComplete((ok, err) -> lost.answer(err == null ? Outcome.FINISHED : Outcome.RELEASED));
      }
    }
    dispatch(session, slot);
  }

  private ActorRef<SessionActor.Command> spawn(String session, Request r, SessionMemory memory) {
    Behavior<SessionActor.Command> behavior =
        Behaviors.supervise(SessionContext.around(factory.create(session, r, memory, getContext().getSelf()), memory))
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
