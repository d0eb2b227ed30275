package io.reelay.worker;

import io.reelay.nemo.AgentEvent;
import io.reelay.nemo.Answers.AnonymousToken;
import io.reelay.nemo.Answers.BackendSession;
import io.reelay.nemo.Answers.Credits;
import io.reelay.nemo.Answers.RenderJob;
import io.reelay.nemo.Answers.SessionState;
import io.reelay.nemo.FailurePolicy;
import io.reelay.nemo.NemoClient;
import io.reelay.nemo.NemoClient.UploadedFile;
import io.reelay.protocol.Action;
import io.reelay.protocol.Event;
import io.reelay.protocol.Event.ErrorInfo;
import io.reelay.protocol.Event.Result;
import io.reelay.protocol.Phase;
import io.reelay.protocol.Request;
import io.reelay.protocol.RequestState;
import io.reelay.protocol.SessionSnapshot;
import io.reelay.protocol.SessionSnapshot.InFlight;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.BiFunction;
import java.util.function.Consumer;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.stream.KillSwitches;
import org.apache.pekko.stream.UniqueKillSwitch;
import org.apache.pekko.stream.javadsl.Keep;
import org.apache.pekko.stream.javadsl.Sink;

/**
 * One backend video session, driven unattended: its identity, then its requests in order, one at a
 * time, every step an event. The actor holds the messages, timers and calls, and carries out what
 * the rooms below it decide ({@link Next}): {@link RunningRequest}, {@link AgentTurn}, {@link
 * RenderFollow}, {@link BackendIdentity}, {@link RequestEvents}, {@link SessionMemory}. Results
 * come back tagged with their job, so one that arrives after a cancel or a deadline is dropped.
 */
public final class SessionActor extends AbstractBehavior<SessionActor.Command> {

  public sealed interface Command {}

  /**
   * Run this request now (one at a time; the registry hears {@link SessionRegistry.Finished} once its terminal event is
   * written), its events from {@code firstSeq}. {@code resume}: a previous owner or incarnation was working on it.
   */
  public record Handle(Request request, SessionRegistry.Origin origin, long firstSeq, boolean resume) implements Command {}

  /** The session's partition is handed over: write the snapshot, then stop; {@code replyTo} hears once it is sent. */
  public record Release(ActorRef<Done> replyTo) implements Command {}

  /** Kafka acknowledged the terminal event of {@code requestId}. */
  private record TerminalPublished(String requestId) implements Command {}

  private record Retrying(NemoClient.RetryNotice notice) implements Command {}

  /** A result of the work of one job: dropped when that job is no longer the current one (cancelled, timed out, done). */
  private sealed interface ForJob extends Command {
    long job();
  }

  private record TokenReady(long job, AnonymousToken token) implements ForJob {}
  private record SessionReady(long job, BackendSession session) implements ForJob {}
  private record Agent(long job, AgentEvent event) implements ForJob {}
  private record StreamEnded(long job, Throwable failure) implements ForJob {}
  private record StateReady(long job, SessionState state) implements ForJob {}
  private record CreditsReady(long job, Credits credits) implements ForJob {}
  private record RenderUpdate(long job, RenderJob render, boolean submitted) implements ForJob {}
  private record Uploaded(long job, List<UploadedFile> files) implements ForJob {}
  private record CallFailed(long job, Throwable failure) implements ForJob {}
  private record TimerFired(long job, TimerKind kind) implements ForJob {}

  /** A snapshot that must be in Kafka before {@code then} (a spend) was acknowledged, or not ({@code failure}). */
  private record Recorded(long job, Throwable failure, Runnable then) implements ForJob {}

  /** The timers, each its own key. STEP carries out the job's pending decision (a retry, a poll, a state check). */
  private enum TimerKind {
    STEP,
    STILL_WORKING,
    DEADLINE
  }

  /** @param memory what the session remembers: every (re)start begins from it, and the session keeps it current */
  public static Behavior<Command> create(String session, SessionMemory memory, WorkerSettings settings, NemoClient client,
      RequestEvents events, StateCipher cipher, ActorRef<SessionRegistry.Command> registry) {
    return Behaviors.setup(ctx -> {
      registry.tell(new SessionRegistry.Started(session)); // on every (re)start
      return Behaviors.withTimers(t -> new SessionActor(ctx, t, session, memory, settings, client, events, cipher, registry));
    });
  }

  private final TimerScheduler<Command> timers;
  private final String session;
  private final ActorRef<SessionRegistry.Command> registry;
  private final SessionMemory memory;
  private final BackendIdentity identity;
  private final WorkerSettings settings;
  private final NemoClient client;
  private final RequestEvents events;
  private final RenderFollow.Setup renders;
  // the last terminal event on its way to Kafka (see SessionSnapshot.pendingTerminal)
  private String sendingTerminalOf;
  private CompletionStage<Void> terminalSending;
  private InFlight inFlightAtStart;
  private RunningRequest job;
  private long jobCounter;

  private SessionActor(ActorContext<Command> ctx, TimerScheduler<Command> timers, String session, SessionMemory memory,
      WorkerSettings settings, NemoClient client, RequestEvents events, StateCipher cipher,
      ActorRef<SessionRegistry.Command> registry) {
    super(ctx);
    ctx.setLoggerName(SessionActor.class); // not the wrapping behaviours' (supervision, MDC)
    this.timers = timers;
    this.session = session;
    this.registry = registry;
    this.settings = settings;
    this.client = client.withRetryListener(n -> ctx.getSelf().tell(new Retrying(n)));
    this.events = events;
    this.memory = memory;
    this.renders = RenderFollow.Setup.of(settings, client);
    this.identity = new BackendIdentity(settings.clientIdPrefix(), memory.tenant(), memory.sessionKey(), cipher,
        client.settings().fixedToken(), settings.tokenRefreshBefore());
    SessionSnapshot last = memory.last();
    if (last != null) {
      inFlightAtStart = last.inFlight();
      if (!identity.restore(last)) {
        ctx.getLog().warn("session {}: the snapshot's token cannot be decrypted (another state key, another tenant's"
            + " session, or written by an older worker); signing in again", session);
      }
    }
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Handle.class, this::onHandle)
        .onMessage(TokenReady.class, m -> forJob(m, this::onTokenReady))
        .onMessage(SessionReady.class, m -> forJob(m, this::onSessionReady))
        .onMessage(Agent.class, m -> forJob(m, this::onAgent))
        .onMessage(StreamEnded.class, m -> forJob(m, this::onStreamEnded))
        .onMessage(StateReady.class, m -> forJob(m, s -> carryOut(job.onState(s.state()))))
        .onMessage(CreditsReady.class, m -> forJob(m, c -> carryOut(job.onCredits(c.credits()))))
        .onMessage(RenderUpdate.class, m -> forJob(m, this::onRenderUpdate))
        .onMessage(Uploaded.class, m -> forJob(m, u -> carryOut(job.onUploaded(u.files()))))
        .onMessage(CallFailed.class, m -> forJob(m, this::onCallFailed))
        .onMessage(TimerFired.class, m -> forJob(m, this::onTimer))
        .onMessage(Recorded.class, m -> forJob(m, this::onRecorded))
        .onMessage(Retrying.class, this::onRetrying)
        .onMessage(Release.class, this::onRelease)
        .onMessage(TerminalPublished.class, this::onTerminalPublished)
        .build();
  }

  /** Hands {@code m} to {@code handler} if it belongs to the current job (an answer to a cancelled or finished job is dropped). */
  private <M extends ForJob> Behavior<Command> forJob(M m, Consumer<M> handler) {
    if (job != null && job.job == m.job()) {
      handler.accept(m);
    }
    return this;
  }

  // ------------------------------------------------------------------ requests in, one at a time

  private Behavior<Command> onHandle(Handle h) {
    Request r = h.request();
    if (r.effectiveAction() == Action.CANCEL) {
      return onCancel(r);
    }
    if (job != null) {
      throw new IllegalStateException("session handed " + r.requestId() + " while busy with " + job.request.requestId());
    }
    memory.partition(h.origin().partition());
    InFlight was = h.resume() && inFlightAtStart != null && inFlightAtStart.requestId().equals(r.requestId()) ? inFlightAtStart : null;
    inFlightAtStart = null;
    long firstSeq = was == null ? h.firstSeq() : Math.max(h.firstSeq(), was.nextSeq());
    job = new RunningRequest(++jobCounter, r, h.origin().offset(), events.of(r, firstSeq), settings, renders);
    timers.startSingleTimer(TimerKind.DEADLINE, new TimerFired(job.job, TimerKind.DEADLINE), settings.requestDeadline());
    carryOut(was == null ? new Next.Start() : job.resume(was, Instant.now()));
    return this;
  }

  /** Carries out a decision for the current request: the calls, timers and events it takes. */
  private void carryOut(Next next) {
    if (next instanceof Next.Say s) {
      emit(s.phase() == null ? job.phase : s.phase(), s.text(), s.progress());
      carryOut(s.then());
    } else if (next instanceof Next.Start) {
      snapshot(); // recorded as in flight: whoever runs the session next resumes it from here
      carryOut(new Next.Advance());
    } else if (next instanceof Next.Advance) {
      carryOut(job.next(identity.need(job.action, job.signedIn, Instant.now())));
    } else if (next instanceof Next.After a) {
      job.pending = a.then();
      timers.startSingleTimer(TimerKind.STEP, new TimerFired(job.job, TimerKind.STEP), a.in());
    } else if (next instanceof Next.SignIn) {
      emit(Phase.AUTHENTICATING, "Signing in to the video backend", null);
      pipe(client.anonymousToken(identity.clientId()), TokenReady::new);
    } else if (next instanceof Next.OpenSession) {
      emit(Phase.SESSION, "Opening a backend session", null);
      pipe(client.createSession(identity.token(), identity.languageFor(job.request)), SessionReady::new);
    } else if (next instanceof Next.Send) {
      recordThen(this::sendMessage); // "about to send" is in Kafka before the message goes
    } else if (next instanceof Next.CheckState c) {
      job.phase = c.phase() == null ? job.phase : c.phase();
      pipe(client.state(identity.token(), identity.backendSessionId()), StateReady::new);
    } else if (next instanceof Next.CheckDraft) {
      emit(Phase.EXPORTING, "Checking the timeline before export", null);
      carryOut(new Next.CheckState(Phase.EXPORTING));
    } else if (next instanceof Next.Render r) {
      startRender(r.draft());
    } else if (next instanceof Next.PollRender) {
      job.phase = Phase.RENDERING;
      job.render().polling(Instant.now());
      pipe(client.pollRender(identity.token(), job.renderId()), (id, x) -> new RenderUpdate(id, x, false));
    } else if (next instanceof Next.CheckCredits || next instanceof Next.CountCredits) {
      job.phase = next instanceof Next.CheckCredits ? Phase.CREDITS : job.phase;
      pipe(client.credits(identity.token()), CreditsReady::new);
    } else if (next instanceof Next.UploadUrl u) {
      pipe(client.uploadUrls(identity.token(), identity.backendSessionId(), List.of(u.url())), Uploaded::new);
    } else if (next instanceof Next.UploadFile f) {
      UploadCheck.LocalFile checked = f.file(); // the handle opened by the check: the client sends and closes it
      NemoClient.LocalFile file = new NemoClient.LocalFile(checked.name(), ContentTypes.parse(checked.contentType()),
          checked.bytes(), checked.channel());
      pipe(client.uploadFiles(identity.token(), identity.backendSessionId(), List.of(file)), Uploaded::new);
    } else if (next instanceof Next.Finish f) {
      finish(f.state(), f.message(), f.result(), f.error());
    } else if (next instanceof Next.Failed f) {
      repairOrFail(f.failure());
    }
  }

  // ------------------------------------------------------------------ the calls that take more than one step

  private void onTokenReady(TokenReady m) {
    identity.signedIn(m.token());
    job.signedIn = true;
    carryOut(new Next.Advance());
  }

  private void onSessionReady(SessionReady m) {
    identity.opened(m.session());
    snapshot();
    carryOut(new Next.Advance());
  }

  /**
   * Writes the snapshot and runs {@code then} once Kafka acknowledged it: for the steps that spend
   * (a message to the agent, a render submit), whose snapshot a new owner must find.
   */
  private void recordThen(Runnable then) {
    long id = job.job;
    getContext().pipeToSelf(snapshot(), (ok, err) -> new Recorded(id, err, then));
  }

  private void onRecorded(Recorded m) {
    if (m.failure() == null) {
      m.then().run();
    } else {
      carryOut(job.notRecorded(m.failure()));
    }
  }

  private void sendMessage() {
    long id = job.job;
    job.messageMayHaveGone = true;
    emit(job.phase, job.action == Action.EDIT ? "Sending the edit to the agent" : "Asking the agent to generate the video", null);
    Pair<UniqueKillSwitch, CompletionStage<Done>> running =
        client.runSse(identity.token(), identity.backendSessionId(), job.request.text())
            .viaMat(KillSwitches.single(), Keep.right())
            .toMat(Sink.foreach(e -> getContext().getSelf().tell(new Agent(id, e))), Keep.both())
            .run(getContext().getSystem());
    job.stream = running.first();
    getContext().pipeToSelf(running.second(), (ok, err) -> new StreamEnded(id, err));
    armStillWorking();
  }

  /** "Still working…" once the stream has been silent (heartbeats only) for the interval; every event re-arms it. */
  private void armStillWorking() {
    timers.startSingleTimer(TimerKind.STILL_WORKING, new TimerFired(job.job, TimerKind.STILL_WORKING), settings.stillWorkingInterval());
  }

  private void onAgent(Agent m) {
    String shown = job.turn().onEvent(m.event());
    if (shown != null) {
      emit(job.phase, shown, null);
    }
  }

  private void onStreamEnded(StreamEnded m) {
    timers.cancel(TimerKind.STILL_WORKING);
    job.stream = null;
    carryOut(job.turn().onStreamEnded(m.failure()));
  }

  private void onRenderUpdate(RenderUpdate u) {
    Next next = job.render().onUpdate(u.render(), u.submitted(), Instant.now());
    if (u.render().isCompleted() || u.render().isFailed()) {
      events.renderPolls().record(job.render().polls());
    }
    carryOut(next);
  }

  private void startRender(SessionState s) {
    String renderId = job.submitRender(Instant.now());
    Request.Output out = job.output();
    emit(Phase.RENDERING, "Export started", 0.0);
    // the render id is in Kafka before the submit: a new owner polls this job instead of submitting another
    recordThen(() -> pipe(client.submitRender(identity.token(), renderId, identity.backendSessionId(), s.draft(), out.format(),
        out.quality()), (id, r) -> new RenderUpdate(id, r, true)));
  }

  // ------------------------------------------------------------------ cancel, hand-over

  /** Cancels the running request (the registry answers cancels of queued and unknown requests). */
  private Behavior<Command> onCancel(Request c) {
    CompletionStage<Void> answered;
    if (job != null && job.request.requestId().equals(c.cancels())) {
      if (job.stream != null) {
        job.stream.shutdown();
      }
      if (job.renderId() != null && identity.token() != null) {
        client.cancelRender(identity.token(), job.renderId()); // best effort; the job ends CANCELLED either way
      }
      finish(RequestState.CANCELLED, "Cancelled by request " + c.requestId(), null, null);
      answered = events.cancelDone(c);
    } else {
      answered = events.notCancellable(c, "already finished");
    }
    String id = c.requestId();
    answered.thenRun(() -> registry.tell(new SessionRegistry.Finished(session, id)));
    memory.remember(id, identity.forSnapshot(), inFlight());
    return this;
  }

  /**
   * The partition moves to another owner (or this worker stops): write where everything stands, stop. The backend goes
   * on with a stream (closed without a word) or a render; the next owner looks for the result.
   */
  private Behavior<Command> onRelease(Release r) {
    if (job != null && job.stream != null) {
      job.stream.shutdown();
    }
    timers.cancelAll();
    ActorRef<Done> replyTo = r.replyTo();
    memory.handOver(memory.now(identity.forSnapshot(), job == null ? null : job.inFlightHandedOver()), terminalSending)
        .whenComplete((ok, err) -> replyTo.tell(Done.getInstance()));
    return Behaviors.stopped();
  }

  // ------------------------------------------------------------------ failures, retries, timers

  private void onCallFailed(CallFailed m) {
    Throwable t = FailurePolicy.unwrap(m.failure());
    carryOut(job.phase == Phase.RENDERING && job.render() != null ? job.render().onPollFailed(t) : new Next.Failed(t));
  }

  /** Transport faults were already retried by the client; what remains is identity repair (once each), or the end. */
  private void repairOrFail(Throwable t) {
    Optional<BackendIdentity.Repair> repair =
        identity.repair(FailurePolicy.remedy(t), job.repaired, client.settings().retry(), ThreadLocalRandom.current().nextDouble());
    if (repair.isPresent()) { // then on from where the request was (a render keeps its job)
      carryOut(new Next.Say(repair.get().phase(), repair.get().note(), null, new Next.After(repair.get().in(), new Next.Advance())));
      return;
    }
    ErrorInfo info = FailureReport.describe(t, identity.userId());
    getContext().getLog().info("request {} failed in {}: {}", job.request.requestId(), job.phase, t.getMessage());
    finish(RequestState.FAILED, info.reason(), null, info);
  }

  private Behavior<Command> onRetrying(Retrying m) {
    if (job != null) {
      emit(job.phase, RequestEvents.retrying(m.notice()), null);
    }
    return this;
  }

  private void onTimer(TimerFired m) {
    switch (m.kind()) {
      case STEP -> carryOut(job.pending);
      case STILL_WORKING -> emit(job.phase, "Still working…", null);
      case DEADLINE -> {
        if (job.stream != null) {
          job.stream.shutdown();
        }
        carryOut(job.deadlinePassed());
      }
    }
  }

  // ------------------------------------------------------------------ events, finish, snapshots

  /** Makes a call for the current job; its answer comes back as {@code answer(job, value)}, a failure as CallFailed. */
  private <T> void pipe(CompletionStage<T> call, BiFunction<Long, T, Command> answer) {
    long id = job.job;
    getContext().pipeToSelf(call, (v, err) -> err == null ? answer.apply(id, v) : new CallFailed(id, err));
  }

  /** A RUNNING event of the current request, now in {@code phase}. */
  private void emit(Phase phase, String message, Double progress) {
    job.phase = phase;
    if (job.stream != null) {
      armStillWorking();
    }
    if (job.events.runningLow()) {
      snapshot(); // reserve the next block of seqs early, so it is stored long before it is needed
    }
    job.events.publish(RequestState.RUNNING, phase, message, progress);
  }

  /**
   * Ends the current request. The snapshot that says "finished" (holding the terminal event) is acknowledged before the
   * event goes out: a new owner either resumes the request or publishes the recorded event, never both, never neither.
   */
  private void finish(RequestState state, String message, Result result, ErrorInfo error) {
    RunningRequest done = job;
    job = null;
    for (TimerKind k : TimerKind.values()) {
      timers.cancel(k);
    }
    Event terminal = done.events.terminal(state, message, result, error);
    getContext().getLog().info("{} request {} ended {}{}", done.request.effectiveAction().wire(), terminal.requestId(), state,
        error == null ? "" : " (" + error.code() + ")");
    ActorRef<Command> self = getContext().getSelf();
    sendingTerminalOf = terminal.requestId();
    terminalSending = done.events.publishAfter(memory.finished(identity.forSnapshot(), terminal.requestId(), done.offset, terminal),
        terminal);
    // retried until Kafka takes it; it fails only as the worker stops, and then the request stays in hand, not committed
    terminalSending.thenRun(() -> {
      self.tell(new TerminalPublished(terminal.requestId()));
      registry.tell(new SessionRegistry.Finished(session, terminal.requestId()));
    });
  }

  /** Kafka took a terminal event: the snapshot says so at once (a new owner would publish it again otherwise). */
  private Behavior<Command> onTerminalPublished(TerminalPublished m) {
    if (m.requestId().equals(sendingTerminalOf)) {
      sendingTerminalOf = null;
      terminalSending = null;
      memory.terminalPublished(m.requestId());
    }
    return this;
  }

  /** Publishes where the session stands (see {@link SessionMemory}). */
  private CompletionStage<Void> snapshot() {
    return memory.write(identity.forSnapshot(), inFlight());
  }

  private InFlight inFlight() {
    return job == null ? null : job.inFlight();
  }
}
