package io.reelay.worker;

import io.reelay.nemo.AgentEvent;
import io.reelay.nemo.FailurePolicy;
import io.reelay.nemo.Answers.AnonymousToken;
import io.reelay.nemo.Answers.BackendSession;
import io.reelay.nemo.Answers.Credits;
import io.reelay.nemo.Answers.RenderJob;
import io.reelay.nemo.Answers.SessionState;
import io.reelay.nemo.NemoClient;
import io.reelay.nemo.NemoException;
import io.reelay.nemo.RenderPoller;
import io.reelay.nemo.TimelineDiff;
import io.reelay.nemo.TimelineSummary;
import io.reelay.nemo.Token;
import io.reelay.protocol.Action;
import io.reelay.protocol.Event;
import io.reelay.protocol.Event.ErrorInfo;
import io.reelay.protocol.Event.Result;
import io.reelay.protocol.LanguageDetector;
import io.reelay.protocol.Phase;
import io.reelay.protocol.Request;
import io.reelay.protocol.RequestState;
import io.reelay.protocol.SessionSnapshot;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Locale;
import java.util.UUID;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.stream.KillSwitches;
import org.apache.pekko.stream.UniqueKillSwitch;
import org.apache.pekko.stream.javadsl.Keep;
import org.apache.pekko.stream.javadsl.Sink;
import org.slf4j.MDC;

/**
 * One backend video session, driven unattended: identity (client id, token, backend session), then
 * each request of the session in order, one at a time, every step published as an {@link Event}.
 *
 * <p>Async results come back as messages tagged with the job they belong to, so an answer that
 * arrives after a cancel or a deadline is recognised and dropped.
 */
public final class SessionActor extends AbstractBehavior<SessionActor.Command> {

  public sealed interface Command {}

  /**
   * Run this request now (the registry hands a session one at a time, and hears {@link
   * SessionRegistry.Finished} once its terminal event is written). Its events start at {@code
   * firstSeq}; {@code resume}: a previous owner or incarnation was working on it, and the session's
   * snapshot says how to go on.
   */
  public record Handle(Request request, SessionRegistry.Origin origin, long firstSeq, boolean resume) implements Command {}

  /** The session's partition is handed over: write the snapshot, then stop; {@code replyTo} hears once it is sent. */
  public record Release(ActorRef<Done> replyTo) implements Command {}

  /** A request of this session finished without it (cancelled while queued): keep it in the snapshot. */
  public record Remember(String requestId) implements Command {}

  /** Kafka acknowledged the terminal event of {@code requestId}. */
  private record TerminalPublished(String requestId) implements Command {}

  private record TokenReady(long job, AnonymousToken token) implements Command {}

  private record SessionReady(long job, BackendSession session) implements Command {}

  private record Agent(long job, AgentEvent event) implements Command {}

  private record StreamEnded(long job, Throwable failure) implements Command {}

  /** A snapshot that must be in Kafka before {@code then} (a spend) was acknowledged, or not ({@code failure}). */
  private record Recorded(long job, Throwable failure, Runnable then) implements Command {}

  private record StateReady(long job, SessionState state) implements Command {}

  private record CreditsReady(long job, Credits credits) implements Command {}

  private record RenderUpdate(long job, RenderJob render, boolean submitted) implements Command {}

  private record CallFailed(long job, Throwable failure) implements Command {}

  private record TimerFired(long job, TimerKind kind) implements Command {}

  private record Uploaded(long job, java.util.List<NemoClient.UploadedFile> files) implements Command {}

  private record Retrying(NemoClient.RetryNotice notice) implements Command {}

  private enum TimerKind {
    RETRY,
    POLL,
    STILL_WORKING,
    RECOVERY_CHECK,
    DEADLINE
  }

  private static final String TEMPORARY_ISSUE = "encountered a temporary issue";

  /**
   * @param memory the session's latest snapshot (null for a new session): every (re)start begins
   *     from it, and the session keeps it current
   */
  public static Behavior<Command> create(
      String session, String sessionKey, String tenant, java.util.concurrent.atomic.AtomicReference<SessionSnapshot> memory,
      WorkerSettings settings, NemoClient client, EventPublisher events, StateCipher cipher,
      ActorRef<SessionRegistry.Command> registry) {
    return Behaviors.setup(
        ctx -> {
          registry.tell(new SessionRegistry.Started(session)); // on every (re)start
          return Behaviors.withTimers(
              t -> new SessionActor(ctx, t, session, sessionKey, tenant, memory, settings, client, events, cipher, registry));
        });
  }

  private final TimerScheduler<Command> timers;
  private final String session;
  private final ActorRef<SessionRegistry.Command> registry;
  private final StateCipher cipher;
  private final java.util.ArrayDeque<String> recentRequestIds = new java.util.ArrayDeque<>();
  private final java.util.concurrent.atomic.AtomicReference<SessionSnapshot> memory;
  // where the session's requests come from, and the last of them it finished (see SessionSnapshot)
  private int partition = -1;
  private long doneThrough = -1;
  // the last terminal event until Kafka acknowledged it (see SessionSnapshot.pendingTerminal)
  private Event pendingTerminal;
  private CompletionStage<Void> terminalSending;
  private SessionSnapshot.InFlight inFlightAtStart;
  private String taskId;
  private final String sessionKey;
  private final String tenant;
  private final WorkerSettings settings;
  private final NemoClient client;
  private final EventPublisher events;

  // identity, kept across requests
  private final String clientId;
  private Token token;
  private Instant tokenExpiresAt;
  private String userId;
  private String backendSessionId;
  private String language;

  // work
  private Job job;
  private long jobCounter;

  /** The request in progress and everything needed to continue it. */
  private final class Job {
    final long id = ++jobCounter;
    final Request request;
    final Action action;
    final long offset;
    long seq;
    long seqReserved; // seqs below it may be used by this owner: the snapshot promises the next owner starts there
    Phase phase = Phase.QUEUED;
    Runnable step;
    boolean renewedToken;
    boolean renewedSession;
    boolean signedIn;
    // streaming
    UniqueKillSwitch stream;
    boolean sawText;
    SessionState before;
    String beforeFingerprint; // of the state before the message, when only that is known (resumed)
    final java.util.Set<GuiTranslator.GuiAction> guiActions = java.util.EnumSet.noneOf(GuiTranslator.GuiAction.class);
    String timeline;
    String question;
    int unchangedChecks = -1; // >= 0 while recovering from a dropped stream
    // rendering
    String renderId;
    int renderSubmits;
    boolean renderReSubmitted;
    RenderPoller poller;
    Instant renderStarted;
    Instant pollSent;
    Integer lastProgress;

    Job(Handle h, long firstSeq) {
      this.request = h.request();
      this.action = h.request().effectiveAction();
      this.offset = h.origin().offset();
      this.seq = firstSeq;
    }

    String fingerprintBefore() {
      return before != null ? before.fingerprint() : beforeFingerprint;
    }
  }

  private SessionActor(
      ActorContext<Command> ctx,
      TimerScheduler<Command> timers,
      String session,
      String sessionKey,
      String tenant,
      java.util.concurrent.atomic.AtomicReference<SessionSnapshot> memory,
      WorkerSettings settings,
      NemoClient client,
      EventPublisher events,
      StateCipher cipher,
      ActorRef<SessionRegistry.Command> registry) {
    super(ctx);
    this.cipher = cipher;
    this.timers = timers;
    this.session = session;
    this.registry = registry;
    this.sessionKey = sessionKey;
    this.tenant = tenant;
    this.settings = settings;
    this.client = client.withRetryListener(n -> ctx.getSelf().tell(new Retrying(n)));
    this.events = events;
    this.clientId = clientIdFor(settings.clientIdPrefix(), tenant, sessionKey);
    this.memory = memory;
    client.settings().fixedToken().ifPresent(t -> this.token = t);
    SessionSnapshot last = memory.get();
    if (last != null) {
      restore(last);
    }
  }

  /** Identity and history from the session's last snapshot (a new owner, or a restart after a crash). */
  private void restore(SessionSnapshot s) {
    userId = s.userId();
    backendSessionId = s.backendSessionId();
    taskId = s.taskId();
    language = s.language();
    doneThrough = s.doneThroughOffset() == null ? -1 : s.doneThroughOffset();
    pendingTerminal = s.pendingTerminal();
    inFlightAtStart = s.inFlight();
    if (s.recentRequestIds() != null) {
      recentRequestIds.addAll(s.recentRequestIds());
    }
    if (token == null && s.encryptedToken() != null) {
      try {
        token = Token.of(cipher.decrypt(s.encryptedToken(), sessionKey));
        tokenExpiresAt = s.tokenExpiresAt();
      } catch (RuntimeException e) {
        // another key (rotated) or a damaged record: the client id gets the same account back
        getContext().getLog().warn("session {}: the snapshot's token cannot be decrypted with this worker's state key; signing in again", session);
      }
    }
  }

  /** {@code s} with {@code requestId} among its finished requests. */
  static SessionSnapshot withFinished(SessionSnapshot s, String requestId) {
    java.util.List<String> recent = new java.util.ArrayList<>(s.recentRequestIds() == null ? java.util.List.of() : s.recentRequestIds());
    recent.add(requestId);
    while (recent.size() > RECENT) {
      recent.remove(0);
    }
    SessionSnapshot.InFlight inFlight = s.inFlight() != null && s.inFlight().requestId().equals(requestId) ? null : s.inFlight();
    return new SessionSnapshot(s.v(), s.sessionKey(), s.tenant(), s.clientId(), s.userId(), s.backendSessionId(), s.taskId(),
        s.language(), s.encryptedToken(), s.tokenExpiresAt(), inFlight, java.util.List.copyOf(recent), s.doneThroughOffset(),
        s.pendingTerminal(), Instant.now());
  }

  /** A stable client id per (tenant, session): the backend gives the same client id its token back. */
  static String clientIdFor(String prefix, String tenant, String sessionKey) {
    UUID u = UUID.nameUUIDFromBytes((tenant + "\u0000" + sessionKey).getBytes(StandardCharsets.UTF_8));
    return prefix + "-" + u;
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Handle.class, this::onHandle)
        .onMessage(TokenReady.class, this::onTokenReady)
        .onMessage(SessionReady.class, this::onSessionReady)
        .onMessage(Agent.class, this::onAgent)
        .onMessage(StreamEnded.class, this::onStreamEnded)
        .onMessage(Recorded.class, this::onRecorded)
        .onMessage(StateReady.class, this::onStateReady)
        .onMessage(CreditsReady.class, this::onCreditsReady)
        .onMessage(RenderUpdate.class, this::onRenderUpdate)
        .onMessage(CallFailed.class, this::onCallFailed)
        .onMessage(TimerFired.class, this::onTimer)
        .onMessage(Retrying.class, this::onRetrying)
        .onMessage(Uploaded.class, this::onUploaded)
        .onMessage(Release.class, this::onRelease)
        .onMessage(Remember.class, this::onRemember)
        .onMessage(TerminalPublished.class, this::onTerminalPublished)
        .build();
  }

  // ------------------------------------------------------------------ requests in, one at a time

  private Behavior<Command> onHandle(Handle h) {
    if (h.request().effectiveAction() == Action.CANCEL) {
      return onCancel(h);
    }
    if (job != null) {
      throw new IllegalStateException("session handed " + h.request().requestId() + " while busy with " + job.request.requestId());
    }
    if (h.origin().partition() >= 0) {
      partition = h.origin().partition();
    }
    SessionSnapshot.InFlight was = h.resume() && inFlightAtStart != null
        && inFlightAtStart.requestId().equals(h.request().requestId()) ? inFlightAtStart : null;
    inFlightAtStart = null;
    job = new Job(h, was == null ? h.firstSeq() : Math.max(h.firstSeq(), was.nextSeq()));
    timers.startSingleTimer(key(TimerKind.DEADLINE), new TimerFired(job.id, TimerKind.DEADLINE), settings.requestDeadline());
    if (was != null) {
      resume(was);
    } else {
      snapshot(); // recorded as in flight: whoever runs the session next resumes it from here
      advance();
    }
    return this;
  }

  /**
   * Goes on with a request a previous owner (or incarnation) was working on, without paying twice:
   * a submitted render is polled under the same id, a message that may have reached the agent is
   * never sent again (its result is looked for), anything else had spent nothing and starts over.
   */
  private void resume(SessionSnapshot.InFlight was) {
    if (was.renderId() != null) {
      job.renderId = was.renderId();
      job.renderSubmits = renderSubmitOf(was.renderId());
      job.renderStarted = Instant.now();
      job.poller = newPoller();
      emit(RequestState.RUNNING, Phase.RENDERING, "Resumed from the session's last snapshot: following the render already submitted", null);
      snapshot();
      advance();
    } else if (was.stateFingerprint() != null && (was.phase() == Phase.GENERATING || was.phase() == Phase.EDITING)) {
      job.beforeFingerprint = was.stateFingerprint();
      emit(RequestState.RUNNING, was.phase(), "Resumed from the session's last snapshot while the agent was working; the message is not sent again."
          + " Checking the result in " + seconds(settings.recoveryFirstCheck()), null);
      startRecovery();
    } else {
      emit(RequestState.RUNNING, was.phase() == null ? Phase.QUEUED : was.phase(),
          "Resumed from the session's last snapshot; nothing had been spent yet, so it starts over", null);
      snapshot();
      advance();
    }
  }

  /** The stream is gone: never re-send (it would run and charge twice); look at the state instead. */
  private void startRecovery() {
    job.unchangedChecks = 0;
    job.step = this::advance; // identity if needed, then the state check (see afterStreamState)
    timers.startSingleTimer(key(TimerKind.RECOVERY_CHECK), new TimerFired(job.id, TimerKind.RECOVERY_CHECK),
        settings.recoveryFirstCheck());
  }

  /** Runs whatever the current request needs next: identity first, then its action. */
  private void advance() {
    // a token this request just got is used even if it expires "soon": the backend's lifetime may
    // be shorter than token-refresh-before, and asking again would only get the same one back
    if (token == null || (expiresSoon() && !job.signedIn)) {
      run(Phase.AUTHENTICATING, this::fetchToken);
    } else if (backendSessionId == null && needsSession(job.action)) {
      run(Phase.SESSION, this::createSession);
    } else if (job.renderId != null) {
      run(Phase.RENDERING, this::pollRender); // never a second submit for the same export
    } else {
      switch (job.action) {
        case GENERATE, EDIT -> run(job.action == Action.EDIT ? Phase.EDITING : Phase.GENERATING, this::fetchState);
        case EXPORT -> run(Phase.EXPORTING, this::checkDraft);
        case STATE -> run(Phase.STATE, this::fetchState);
        case CREDITS -> run(Phase.CREDITS, this::fetchCredits);
        case UPLOAD -> run(Phase.UPLOADING, this::upload);
        case CANCEL -> throw new IllegalStateException("cancel is never queued");
      }
    }
  }

  private static boolean needsSession(Action a) {
    return a != Action.CREDITS;
  }

  private boolean expiresSoon() {
    return tokenExpiresAt != null && Instant.now().plus(settings.tokenRefreshBefore()).isAfter(tokenExpiresAt);
  }

  /** Makes {@code step} the current step (so a retry repeats it) and runs it. */
  private void run(Phase phase, Runnable step) {
    job.phase = phase;
    job.step = step;
    step.run();
  }

  // ------------------------------------------------------------------ identity

  private void fetchToken() {
    long id = job.id;
    emit(RequestState.RUNNING, Phase.AUTHENTICATING, "Signing in to the video backend", null);
    pipe(client.anonymousToken(clientId), t -> new TokenReady(id, t), id);
  }

  private Behavior<Command> onTokenReady(TokenReady m) {
    if (stale(m.job())) {
      return this;
    }
    token = m.token().token();
    tokenExpiresAt = m.token().expiresAt();
    userId = m.token().userId();
    job.signedIn = true;
    advance();
    return this;
  }

  private void createSession() {
    long id = job.id;
    emit(RequestState.RUNNING, Phase.SESSION, "Opening a backend session", null);
    if (language == null) {
      // the session language comes from its first text unless the request names one
      language = job.request.language() != null ? job.request.language() : LanguageDetector.detect(job.request.text());
    }
    pipe(client.createSession(token, language), s -> new SessionReady(id, s), id);
  }

  private Behavior<Command> onSessionReady(SessionReady m) {
    if (stale(m.job())) {
      return this;
    }
    backendSessionId = m.session().sessionId();
    taskId = m.session().taskId();
    snapshot();
    advance();
    return this;
  }

  // ------------------------------------------------------------------ generate / edit over SSE

  private void openStream() {
    // the snapshot that says "about to send" is in Kafka before the message goes: a new owner that
    // did not find it would send the message again, and the agent would be paid twice
    recordThen(this::sendMessage);
  }

  /**
   * Writes the snapshot and runs {@code then} once Kafka acknowledged it: for the steps that spend
   * (a message to the agent, a render submit), whose snapshot a new owner must find.
   */
  private void recordThen(Runnable then) {
    long id = job.id;
    getContext().pipeToSelf(snapshot(), (ok, err) -> new Recorded(id, err, then));
  }

  private Behavior<Command> onRecorded(Recorded m) {
    if (stale(m.job())) {
      return this;
    }
    if (m.failure() != null) {
      finish(RequestState.FAILED, "Not sent: the session's state could not be recorded", null,
          new ErrorInfo("STATE_NOT_RECORDED", "Kafka did not take the session snapshot: " + m.failure().getClass().getSimpleName(),
              true, "Nothing was sent to the backend and nothing was spent; send the request again under a new requestId"));
      return this;
    }
    m.then().run();
    return this;
  }

  private void sendMessage() {
    long id = job.id;
    emit(RequestState.RUNNING, job.phase,
        job.action == Action.EDIT ? "Sending the edit to the agent" : "Asking the agent to generate the video", null);
    Pair<UniqueKillSwitch, CompletionStage<Done>> running =
        client.runSse(token, backendSessionId, job.request.text())
            .viaMat(KillSwitches.single(), Keep.right())
            .toMat(Sink.foreach(e -> getContext().getSelf().tell(new Agent(id, e))), Keep.both())
            .run(getContext().getSystem());
    job.stream = running.first();
    getContext().pipeToSelf(running.second(), (ok, err) -> new StreamEnded(id, err));
    armStillWorking();
  }

  /** "Still working…" once the stream has been silent (heartbeats only) for the interval; every event re-arms it. */
  private void armStillWorking() {
    timers.startSingleTimer(key(TimerKind.STILL_WORKING), new TimerFired(job.id, TimerKind.STILL_WORKING),
        settings.stillWorkingInterval());
  }

  private Behavior<Command> onAgent(Agent m) {
    if (stale(m.job())) {
      return this;
    }
    if (m.event() instanceof AgentEvent.Text t && !t.partial()) {
      String text = t.text().strip();
      if (job.sawText && text.toLowerCase(Locale.ROOT).contains(TEMPORARY_ISSUE)) {
        return this; // a trailing "temporary issue" after normal replies means nothing (the seed)
      }
      job.sawText = true;
      job.guiActions.addAll(GuiTranslator.actions(text));
      String shown = GuiTranslator.strip(text);
      if (!shown.isEmpty()) {
        emit(RequestState.RUNNING, job.phase, shown, null);
      }
    }
    if (m.event() instanceof AgentEvent.ToolCall c && c.name().equals("ask_question")) {
      // the agent waits for the user: the one tool call a person must see (answer with an edit)
      job.question = Questions.describe(c.args());
      job.sawText = true;
      emit(RequestState.RUNNING, job.phase, job.question, null);
    }
    // other tool calls and results stay internal; heartbeats only keep the stall detector happy
    return this;
  }

  private Behavior<Command> onStreamEnded(StreamEnded m) {
    if (stale(m.job())) {
      return this;
    }
    timers.cancel(key(TimerKind.STILL_WORKING));
    job.stream = null;
    if (m.failure() != null) {
      Throwable t = FailurePolicy.unwrap(m.failure());
      if (t instanceof NemoException.Stream s && !"STREAM_ERROR".equals(s.code())) {
        // dropped, stalled or too long: never re-send (it would run and charge twice); look instead
        emit(RequestState.RUNNING, job.phase, "The connection to the agent " + (s.code().equals("STREAM_CUT") ? "dropped" : "stalled")
            + "; the message is not sent again. Checking the result in " + seconds(settings.recoveryFirstCheck()), null);
        startRecovery();
      } else if (t instanceof NemoException.Backend || (t instanceof NemoException.Http h && refusedUnread(h))) {
        // refused before any stream (1001, 1002, 2001, 402, …): the message did not run; start over
        // from the state check once the identity is repaired
        job.before = null;
        return onCallFailed(new CallFailed(job.id, t));
      } else if (t instanceof NemoException.Http || t instanceof NemoException.Transport) {
        // a 5xx or a broken connection as the message went out: it may have reached the agent,
        // and sending it again could run and charge it twice; look at the state instead
        emit(RequestState.RUNNING, job.phase, (t instanceof NemoException.Http h
                ? "The backend answered HTTP " + h.status() + " to the message"
                : "The connection failed while the message was sent")
            + "; it may have reached the agent, so it is not sent again. Checking the result in "
            + seconds(settings.recoveryFirstCheck()), null);
        startRecovery();
      } else {
        fail(t);
      }
      return this;
    }
    run(job.phase, this::fetchState);
    return this;
  }

  // ------------------------------------------------------------------ state, credits

  private void checkDraft() {
    emit(RequestState.RUNNING, Phase.EXPORTING, "Checking the timeline before export", null);
    fetchState();
  }

  private void fetchState() {
    long id = job.id;
    pipe(client.state(token, backendSessionId), s -> new StateReady(id, s), id);
  }

  private Behavior<Command> onStateReady(StateReady m) {
    if (stale(m.job())) {
      return this;
    }
    SessionState s = m.state();
    String timeline = TimelineSummary.of(s.draft());
    if (job.phase == Phase.EXPORTING) {
      // the draft check of an export (also a generation's export, or a render tried again)
      if (!s.hasExportableDraft()) {
        finish(RequestState.FAILED, "Nothing to export yet", null,
            new ErrorInfo("EMPTY_DRAFT", "The session has no tracks to export", false,
                "Generate a video in this session first, then export"));
      } else {
        startRender(s);
      }
      return this;
    }
    switch (job.action) {
      case GENERATE, EDIT -> afterStreamState(s, timeline);
      case STATE -> finish(RequestState.COMPLETED, timeline, new Result(null, timeline, null, null), null);
      default -> throw new IllegalStateException("state fetched for " + job.action + " in " + job.phase);
    }
    return this;
  }

  /** The state before the message (then open the stream), after it, or while recovering a drop. */
  private void afterStreamState(SessionState s, String timeline) {
    if (job.fingerprintBefore() == null) {
      job.before = s;
      openStream();
      return;
    }
    Result result = new Result(null, timeline, null, null);
    boolean changed = !s.fingerprint().equals(job.fingerprintBefore());
    if (job.unchangedChecks >= 0) {
      if (changed) {
        String what = "The stream dropped, but the backend finished: "
            + (job.before == null ? timeline : TimelineDiff.describe(job.before.draft(), s.draft(), timeline));
        if (job.action == Action.GENERATE && settings.followGuiExport() && s.hasExportableDraft()) {
          // the agent's reply went with the stream; it ends every generation by asking for an export,
          // so the request ends as it would have: with the video (the same as a request never cut)
          job.timeline = timeline;
          emit(RequestState.RUNNING, job.phase, what, null);
          emit(RequestState.RUNNING, Phase.EXPORTING, "The agent's reply was lost with the stream; it asks for an export"
              + " after every generation, so rendering the video", null);
          startRender(s);
        } else {
          finish(RequestState.COMPLETED, what, result, null);
        }
      } else if (++job.unchangedChecks >= settings.recoveryMaxUnchanged()) {
        finish(RequestState.FAILED, "The connection dropped and nothing changed after " + job.unchangedChecks + " checks", null,
            new ErrorInfo("STREAM_LOST", "the stream dropped and the backend state did not change", true,
                "The message was not sent again, to avoid paying twice; send the request again under a new requestId"));
      } else {
        emit(RequestState.RUNNING, job.phase, "No change yet (check " + job.unchangedChecks + " of "
            + settings.recoveryMaxUnchanged() + "); looking again in " + seconds(settings.recoveryInterval()), null);
        timers.startSingleTimer(key(TimerKind.RECOVERY_CHECK), new TimerFired(job.id, TimerKind.RECOVERY_CHECK),
            settings.recoveryInterval());
      }
      return;
    }
    job.timeline = timeline;
    if (job.guiActions.contains(GuiTranslator.GuiAction.EXPORT) && settings.followGuiExport() && s.hasExportableDraft()) {
      // the agent told the user to click Export: there is no button here, so export by API
      emit(RequestState.RUNNING, job.phase, timeline, null);
      emit(RequestState.RUNNING, Phase.EXPORTING, "The agent suggests exporting: rendering the video", null);
      startRender(s);
    } else if (job.guiActions.contains(GuiTranslator.GuiAction.CREDITS)) {
      emit(RequestState.RUNNING, job.phase, timeline, null);
      run(Phase.CREDITS, this::fetchCredits);
    } else if (job.question != null) {
      finish(RequestState.COMPLETED, job.question + " Reply with an edit request in this session.", result, null);
    } else if (job.sawText) {
      finish(RequestState.COMPLETED, timeline, result, null);
    } else {
      // a silent edit: say what changed, as the seed asks
      finish(RequestState.COMPLETED, TimelineDiff.describe(job.before.draft(), s.draft(), "No visible change; " + timeline),
          result, null);
    }
  }

  /** A 4xx answer to the message: refused as it arrived, never run (a 5xx or 408 may have run it). */
  private static boolean refusedUnread(NemoException.Http h) {
    return h.status() >= 400 && h.status() < 500 && h.status() != 408;
  }

  private static String seconds(Duration d) {
    return d.toMillis() < 1000 ? d.toMillis() + " ms" : Math.round(d.toMillis() / 1000.0) + " s";
  }

  private void fetchCredits() {
    long id = job.id;
    pipe(client.credits(token), c -> new CreditsReady(id, c), id);
  }

  private Behavior<Command> onCreditsReady(CreditsReady m) {
    if (stale(m.job())) {
      return this;
    }
    Credits c = m.credits();
    finish(RequestState.COMPLETED,
        "Credits: " + c.available() + " available, " + c.frozen() + " held for running work",
        new Result(null, job.timeline, new Event.Credits(c.available(), c.frozen(), c.total()), null), null);
    return this;
  }

  // ------------------------------------------------------------------ upload

  private void upload() {
    long id = job.id;
    // the worker refused bad uploads as they arrived; this catches a file that changed since
    UploadCheck.Verdict v = UploadCheck.check(job.request.upload(), settings.mediaDir(), settings.maxUploadBytes());
    if (v instanceof UploadCheck.Refused r) {
      finish(RequestState.REJECTED, "Upload refused: " + r.reason(), null, new ErrorInfo(r.code(), r.reason(), false, r.hint()));
    } else if (v instanceof UploadCheck.Url u) {
      emit(RequestState.RUNNING, Phase.UPLOADING, "Adding the file from its URL", null);
      pipe(client.uploadUrls(token, backendSessionId, java.util.List.of(u.url())), f -> new Uploaded(id, f), id);
    } else if (v instanceof UploadCheck.LocalFile f) {
      emit(RequestState.RUNNING, Phase.UPLOADING, "Uploading " + f.path().getFileName() + " (" + f.bytes() / 1024 + " KiB)", null);
      pipe(client.uploadFiles(token, backendSessionId,
              java.util.List.of(new NemoClient.LocalFile(f.path(), org.apache.pekko.http.javadsl.model.ContentTypes.parse(f.contentType())))),
          x -> new Uploaded(id, x), id);
    }
  }

  private Behavior<Command> onUploaded(Uploaded m) {
    if (stale(m.job())) {
      return this;
    }
    java.util.List<Event.Media> media = m.files().stream()
        .map(f -> new Event.Media(f.filename(), f.fileType(), f.cdnUrl(), f.duration()))
        .toList();
    String names = media.stream().map(x -> x.fileName() + (x.fileType() == null ? "" : " (" + x.fileType() + ")"))
        .collect(java.util.stream.Collectors.joining(", "));
    finish(RequestState.COMPLETED, "Uploaded " + (names.isEmpty() ? "nothing" : names), new Result(null, null, null, media), null);
    return this;
  }

  // ------------------------------------------------------------------ export / render

  private void startRender(SessionState s) {
    job.renderSubmits++;
    job.renderId = renderIdFor(job.request.requestId(), job.renderSubmits);
    job.renderStarted = Instant.now();
    job.poller = newPoller();
    Request.Output out = job.request.output() == null ? Request.Output.DEFAULT : job.request.output();
    long id = job.id;
    String renderId = job.renderId;
    emit(RequestState.RUNNING, Phase.RENDERING, "Export started", 0.0);
    // the render id is in Kafka before the submit: a new owner polls this job instead of submitting another
    recordThen(() -> run(Phase.RENDERING, () -> pipe(
        client.submitRender(token, renderId, backendSessionId, s.draft(),
            out.format() == null ? "mp4" : out.format(), out.quality() == null ? "high" : out.quality()),
        r -> new RenderUpdate(id, r, true), id)));
  }

  private RenderPoller newPoller() {
    return new RenderPoller(settings.renderPollGrid(), settings.renderPollMargin(), settings.renderPollMinGap(),
        client.renderConvention());
  }

  /** Which submit of its request a render id names (see {@link #renderIdFor}). */
  static int renderSubmitOf(String renderId) {
    int r = renderId.lastIndexOf("_r");
    if (r > 0) {
      try {
        return Integer.parseInt(renderId.substring(r + 2));
      } catch (NumberFormatException e) {
        return 1; // "_r" was part of the request id
      }
    }
    return 1;
  }

  /** The render id is derived from the requestId, so a repeat after failover is the same job. */
  static String renderIdFor(String requestId, int submit) {
    String base = "render_" + requestId.replaceAll("[^A-Za-z0-9_-]", "_");
    return submit <= 1 ? base : base + "_r" + submit;
  }

  private Behavior<Command> onRenderUpdate(RenderUpdate m) {
    if (stale(m.job())) {
      return this;
    }
    RenderJob r = m.render();
    if (r.isCompleted()) {
      if (!m.submitted()) {
        job.poller.completed(sinceSubmit());
      }
      String url = r.outputUrl() != null ? r.outputUrl() : client.fallbackDownloadUrl(job.renderId);
      finish(RequestState.COMPLETED, "Your video is ready", new Result(url, job.timeline, null, null), null);
      return this;
    }
    if (r.isFailed()) {
      if (job.renderSubmits < 2) {
        emit(RequestState.RUNNING, Phase.RENDERING, "The render failed; trying once more under a new id", null);
        run(Phase.EXPORTING, this::checkDraft);
      } else {
        finish(RequestState.FAILED, "The render failed twice", null,
            new ErrorInfo("RENDER_FAILED", r.error() == null ? "render failed" : r.error(), true,
                "Resubmit the export later"));
      }
      return this;
    }
    if (Duration.between(job.renderStarted, Instant.now()).compareTo(settings.renderTimeout()) > 0) {
      finish(RequestState.FAILED, "The render did not finish in time", null,
          new ErrorInfo("RENDER_TIMEOUT", "no result after " + settings.renderTimeout(), true,
              "Resubmit the export: the same request id resumes the same render job"));
      return this;
    }
    if (r.progress() != null && !r.progress().equals(job.lastProgress)) {
      job.lastProgress = r.progress();
      emit(RequestState.RUNNING, Phase.RENDERING, "Rendering: " + r.progress() + "%", r.progress() / 100.0);
    }
    job.step = this::pollRender;
    // the submit's own answer is not a poll: the first poll waits for the poller's first point
    Duration delay;
    if (m.submitted()) {
      job.poller.submitted(r.progress());
      delay = job.poller.first();
    } else {
      delay = job.poller.next(sinceSubmit(), r.progress());
    }
    timers.startSingleTimer(key(TimerKind.POLL), new TimerFired(job.id, TimerKind.POLL), delay);
    return this;
  }

  /**
   * When the backend answered the last poll, as time since submit: halfway between sending it and
   * hearing back (the answer's progress is from then; a slow answer would otherwise skew the line).
   */
  private Duration sinceSubmit() {
    Instant now = Instant.now();
    Instant sent = job.pollSent == null ? now : job.pollSent;
    return Duration.between(job.renderStarted, sent.plus(Duration.between(sent, now).dividedBy(2)));
  }

  private void pollRender() {
    long id = job.id;
    job.pollSent = Instant.now();
    pipe(client.pollRender(token, job.renderId), x -> new RenderUpdate(id, x, false), id);
  }

  // ------------------------------------------------------------------ cancel

  /** Cancels the running request (the registry handles queued and unknown targets). */
  private Behavior<Command> onCancel(Handle h) {
    Request c = h.request();
    String target = c.cancels();
    if (job != null && job.request.requestId().equals(target)) {
      if (job.stream != null) {
        job.stream.shutdown();
      }
      if (job.renderId != null && token != null) {
        client.cancelRender(token, job.renderId); // best effort; the job ends CANCELLED either way
      }
      finish(RequestState.CANCELLED, "Cancelled by request " + c.requestId(), null, null);
      publishOne(c, RequestState.COMPLETED, "Cancelled " + target);
    } else {
      publishOne(c, RequestState.FAILED, "Nothing to cancel: " + target + " already finished");
    }
    return this;
  }

  /** The one event of a cancel request, then the registry hears it is finished. */
  private void publishOne(Request r, RequestState state, String message) {
    ErrorInfo err = state == RequestState.FAILED
        ? new ErrorInfo("NOT_CANCELLABLE", message, false, "It may have finished already: check its status")
        : null;
    String id = r.requestId();
    publish(r, 1, state, Phase.DONE, message, null, null, err)
        .whenComplete((ok, e) -> registry.tell(new SessionRegistry.Finished(session, id)));
    addRecent(id);
    snapshot();
  }

  // ------------------------------------------------------------------ hand-over

  /**
   * The partition moves to another owner (or this worker stops): write where everything stands and
   * stop. A stream is closed without a word to the backend, which goes on with the work; the next
   * owner looks for its result. A render goes on too, and is polled by the next owner.
   */
  private Behavior<Command> onRelease(Release r) {
    if (job != null && job.stream != null) {
      job.stream.shutdown();
    }
    timers.cancelAll();
    ActorRef<Done> replyTo = r.replyTo();
    SessionSnapshot last = state();
    CompletionStage<Void> written;
    if (pendingTerminal != null && terminalSending != null) {
      // the last terminal event is on its way: the snapshot waits for Kafka's answer (the hand-over
      // waits for this snapshot), so that the next owner does not publish the event a second time
      written = terminalSending
          .handle((ok, err) -> err == null ? withoutPendingTerminal(last) : last)
          .thenCompose(this::write);
    } else {
      written = write(last);
    }
    written.whenComplete((ok, err) -> replyTo.tell(Done.getInstance()));
    return Behaviors.stopped();
  }

  private Behavior<Command> onRemember(Remember m) {
    addRecent(m.requestId());
    snapshot();
    return this;
  }

  // ------------------------------------------------------------------ failures, retries, timers

  private Behavior<Command> onCallFailed(CallFailed m) {
    if (stale(m.job())) {
      return this;
    }
    Throwable t = FailurePolicy.unwrap(m.failure());
    if (job.phase == Phase.RENDERING && job.renderId != null && notFound(t) && !job.renderReSubmitted) {
      // a render id recorded just before its submit, by an owner that stopped before the submit
      // arrived: the backend never saw it, so submitting it now under the same id is not a repeat
      job.renderReSubmitted = true;
      emit(RequestState.RUNNING, Phase.EXPORTING, "The backend has no render under this export's id yet; submitting it now", null);
      job.renderSubmits--;
      job.renderId = null;
      run(Phase.EXPORTING, this::checkDraft);
      return this;
    }
    // transport rows were already retried by the client; what remains is identity repair or the end
    switch (FailurePolicy.remedy(t)) {
      case RENEW_TOKEN -> {
        if (!job.renewedToken && client.settings().fixedToken().isEmpty()) {
          job.renewedToken = true;
          token = null;
          emit(RequestState.RUNNING, Phase.AUTHENTICATING, "The token expired; getting a new one", null);
          retryStep();
          return this;
        }
      }
      case NEW_SESSION -> {
        if (!job.renewedSession) {
          job.renewedSession = true;
          backendSessionId = null;
          emit(RequestState.RUNNING, Phase.SESSION,
              "The backend session was lost; starting a new one (the agent's earlier history is gone)", null);
          retryStep();
          return this;
        }
      }
      default -> {}
    }
    fail(t);
    return this;
  }

  private Behavior<Command> onRetrying(Retrying m) {
    if (job != null) {
      NemoClient.RetryNotice n = m.notice();
      emit(RequestState.RUNNING, job.phase, "The backend answered " + n.code() + " to " + n.call()
          + "; retry " + n.attempt() + " in " + Math.max(1, Math.round(n.delay().toMillis() / 1000.0)) + " s", null);
    }
    return this;
  }

  /** Repairs identity and carries on from where the request was (a render keeps its job). */
  private void retryStep() {
    job.step = this::advance;
    timers.startSingleTimer(key(TimerKind.RETRY), new TimerFired(job.id, TimerKind.RETRY), Duration.ZERO);
  }

  private Behavior<Command> onTimer(TimerFired m) {
    if (stale(m.job())) {
      return this;
    }
    switch (m.kind()) {
      case RETRY, POLL, RECOVERY_CHECK -> job.step.run();
      case STILL_WORKING -> emit(RequestState.RUNNING, job.phase, "Still working…", null);
      case DEADLINE -> {
        if (job.stream != null) {
          job.stream.shutdown();
        }
        finish(RequestState.FAILED, "Gave up after " + settings.requestDeadline(), null,
            new ErrorInfo("DEADLINE", "the request took longer than " + settings.requestDeadline(), true,
                "Check the session state; resubmit if nothing changed"));
      }
    }
    return this;
  }

  private static boolean notFound(Throwable t) {
    return (t instanceof NemoException.Backend b && (b.backendCode() == 404 || b.httpStatus() == 404))
        || (t instanceof NemoException.Http h && h.status() == 404);
  }

  private void fail(Throwable t) {
    ErrorInfo info = FailureReport.describe(t, userId);
    getContext().getLog().info("request {} failed in {}: {}", job.request.requestId(), job.phase, t.getMessage());
    finish(RequestState.FAILED, info.reason(), null, info);
  }

  // ------------------------------------------------------------------ events

  private boolean stale(long jobId) {
    return job == null || job.id != jobId;
  }

  private <T> void pipe(CompletionStage<T> call, java.util.function.Function<T, Command> ok, long jobId) {
    getContext().pipeToSelf(call, (v, err) -> err == null ? ok.apply(v) : new CallFailed(jobId, err));
  }

  private void emit(RequestState state, Phase phase, String message, Double progress) {
    job.phase = phase;
    if (job.stream != null) {
      armStillWorking();
    }
    if (job.seq >= job.seqReserved - SEQ_BLOCK / 2) {
      snapshot(); // reserve the next block early, so it is stored long before it is needed
    }
    publish(job.request, job.seq++, state, phase, message, progress, null, null);
  }

  private void finish(RequestState state, String message, Result result, ErrorInfo error) {
    Job done = job;
    timers.cancel(key(TimerKind.RETRY));
    timers.cancel(key(TimerKind.POLL));
    timers.cancel(key(TimerKind.STILL_WORKING));
    timers.cancel(key(TimerKind.RECOVERY_CHECK));
    timers.cancel(key(TimerKind.DEADLINE));
    Event terminal = event(done.request, done.seq++, state, Phase.DONE, message, state == RequestState.COMPLETED ? 1.0 : null,
        result, error);
    job = null;
    doneThrough = Math.max(doneThrough, done.offset);
    addRecent(done.request.requestId());
    pendingTerminal = terminal;
    getContext().getLog().debug("{} {} {}", terminal.state(), terminal.phase(), terminal.message());
    // the snapshot that says "finished" (with the terminal event in it) is acknowledged before the
    // terminal event goes out: a new owner then either finds the request unfinished and resumes it,
    // or finds it finished and publishes the recorded terminal event; never both, never neither
    ActorRef<Command> self = getContext().getSelf();
    org.apache.pekko.actor.typed.ActorSystem<Void> system = getContext().getSystem();
    terminalSending = snapshot()
        .handle((ok, err) -> {
          if (err != null) {
            system.log().warn("snapshot before the terminal event of {} not written: {}", terminal.requestId(), err.toString());
          }
          return null;
        })
        .thenCompose(x -> events.publish(terminal, done.request.callbackUrl()));
    terminalSending.whenComplete(
            (ok, err) -> {
              if (err != null) {
                system.log().error("terminal event of {} not published: {}", terminal.requestId(), err.toString());
              } else {
                self.tell(new TerminalPublished(terminal.requestId()));
              }
              registry.tell(new SessionRegistry.Finished(session, terminal.requestId()));
            });
  }

  /**
   * Kafka acknowledged a terminal event: nothing is pending, and the snapshot says so at once (a
   * new owner would otherwise publish the event again for every finished request it reads again).
   */
  private Behavior<Command> onTerminalPublished(TerminalPublished m) {
    if (pendingTerminal != null && pendingTerminal.requestId().equals(m.requestId())) {
      pendingTerminal = null;
      terminalSending = null;
      snapshot();
    }
    return this;
  }

  static SessionSnapshot withoutPendingTerminal(SessionSnapshot s) {
    return new SessionSnapshot(s.v(), s.sessionKey(), s.tenant(), s.clientId(), s.userId(), s.backendSessionId(), s.taskId(),
        s.language(), s.encryptedToken(), s.tokenExpiresAt(), s.inFlight(), s.recentRequestIds(), s.doneThroughOffset(),
        null, s.updatedAt());
  }

  private void addRecent(String requestId) {
    recentRequestIds.addLast(requestId);
    while (recentRequestIds.size() > RECENT) {
      recentRequestIds.removeFirst();
    }
  }

  private static final int RECENT = 50;

  /**
   * Event seqs are handed out in blocks (hi/lo): a snapshot records the end of the block in use as
   * the in-flight request's next seq, so whoever resumes the request starts above every seq this
   * owner may have published since, without a snapshot per event. A takeover leaves a gap, never
   * a repeat.
   */
  private static final long SEQ_BLOCK = 100;

  private long reserveSeqs() {
    job.seqReserved = job.seq + SEQ_BLOCK;
    return job.seqReserved;
  }

  /**
   * Publishes the session's durable state: identity (the token encrypted), the request in flight
   * with its phase, render id and the state fingerprint from before a credit-spending call, the
   * recently finished requests, the next event seq.
   */
  private CompletionStage<Void> snapshot() {
    return write(state());
  }

  /** Where the session stands now. */
  private SessionSnapshot state() {
    SessionSnapshot.InFlight inFlight = job == null ? null : new SessionSnapshot.InFlight(
        job.request.requestId(), job.phase, job.renderId, job.fingerprintBefore(), reserveSeqs());
    return new SessionSnapshot(SessionSnapshot.VERSION, sessionKey, tenant, clientId, userId, backendSessionId,
        taskId, language, token == null ? null : cipher.encrypt(token.reveal(), sessionKey), tokenExpiresAt, inFlight,
        java.util.List.copyOf(recentRequestIds), doneThrough < 0 ? null : doneThrough, pendingTerminal, Instant.now());
  }

  /** Also used once the actor stopped ({@link #onRelease}): the fields it reads no longer change then. */
  private CompletionStage<Void> write(SessionSnapshot s) {
    memory.set(s); // what a restart after a crash begins from
    return events.snapshot(s, partition);
  }

  private CompletionStage<Void> publish(
      Request r, long seq, RequestState state, Phase phase, String message, Double progress, Result result, ErrorInfo error) {
    return publish(event(r, seq, state, phase, message, progress, result, error), r.callbackUrl());
  }

  private Event event(
      Request r, long seq, RequestState state, Phase phase, String message, Double progress, Result result, ErrorInfo error) {
    return new Event(Event.VERSION, r.requestId(), sessionKey, tenant, seq, Instant.now(), state, phase,
        message, progress, result, error);
  }

  private CompletionStage<Void> publish(Event e, String callbackUrl) {
    MDC.put("requestId", e.requestId());
    try {
      getContext().getLog().debug("{} {} {}", e.state(), e.phase(), e.message());
    } finally {
      MDC.remove("requestId");
    }
    return events.publish(e, callbackUrl);
  }

  private static Object key(TimerKind k) {
    return k;
  }
}
