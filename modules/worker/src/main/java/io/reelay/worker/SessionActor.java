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

  /** Run this request now (the registry hands a session one at a time); {@code replyTo} hears once it is finished. */
  public record Handle(Request request, ActorRef<Done> replyTo) implements Command {}

  private record TokenReady(long job, AnonymousToken token) implements Command {}

  private record SessionReady(long job, BackendSession session) implements Command {}

  private record Agent(long job, AgentEvent event) implements Command {}

  private record StreamEnded(long job, Throwable failure) implements Command {}

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

  public static Behavior<Command> create(
      String session, String sessionKey, String tenant, WorkerSettings settings, NemoClient client,
      EventPublisher events, StateCipher cipher, ActorRef<SessionRegistry.Command> registry) {
    return Behaviors.setup(
        ctx -> {
          registry.tell(new SessionRegistry.Started(session)); // on every (re)start
          return Behaviors.withTimers(
              t -> new SessionActor(ctx, t, session, sessionKey, tenant, settings, client, events, cipher, registry));
        });
  }

  private final TimerScheduler<Command> timers;
  private final String session;
  private final ActorRef<SessionRegistry.Command> registry;
  private final StateCipher cipher;
  private final java.util.ArrayDeque<String> recentRequestIds = new java.util.ArrayDeque<>();
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
    final ActorRef<Done> replyTo;
    long seq;
    Phase phase = Phase.QUEUED;
    Runnable step;
    boolean renewedToken;
    boolean renewedSession;
    Instant lastPublished = Instant.now();
    // streaming
    UniqueKillSwitch stream;
    boolean sawText;
    SessionState before;
    final java.util.Set<GuiTranslator.GuiAction> guiActions = java.util.EnumSet.noneOf(GuiTranslator.GuiAction.class);
    String timeline;
    String question;
    int unchangedChecks = -1; // >= 0 while recovering from a dropped stream
    // rendering
    String renderId;
    int renderSubmits;
    RenderPoller poller;
    Instant renderStarted;
    Integer lastProgress;

    Job(Handle h, long firstSeq) {
      this.request = h.request();
      this.action = h.request().effectiveAction();
      this.replyTo = h.replyTo();
      this.seq = firstSeq;
    }
  }

  private SessionActor(
      ActorContext<Command> ctx,
      TimerScheduler<Command> timers,
      String session,
      String sessionKey,
      String tenant,
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
    client.settings().fixedToken().ifPresent(t -> this.token = t);
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
        .onMessage(StateReady.class, this::onStateReady)
        .onMessage(CreditsReady.class, this::onCreditsReady)
        .onMessage(RenderUpdate.class, this::onRenderUpdate)
        .onMessage(CallFailed.class, this::onCallFailed)
        .onMessage(TimerFired.class, this::onTimer)
        .onMessage(Retrying.class, this::onRetrying)
        .onMessage(Uploaded.class, this::onUploaded)
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
    job = new Job(h, 2); // seq 1 was the QUEUED event
    timers.startSingleTimer(key(TimerKind.DEADLINE), new TimerFired(job.id, TimerKind.DEADLINE), settings.requestDeadline());
    advance();
    return this;
  }

  /** Runs whatever the current request needs next: identity first, then its action. */
  private void advance() {
    if (token == null || expiresSoon()) {
      run(Phase.AUTHENTICATING, this::fetchToken);
    } else if (backendSessionId == null && needsSession(job.action)) {
      run(Phase.SESSION, this::createSession);
    } else {
      switch (job.action) {
        case GENERATE, EDIT -> run(job.action == Action.EDIT ? Phase.EDITING : Phase.GENERATING, this::fetchState);
        case EXPORT -> {
          if (job.renderId == null) {
            run(Phase.EXPORTING, this::checkDraft);
          } else {
            run(Phase.RENDERING, this::pollRender); // never a second submit for the same export
          }
        }
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
    return tokenExpiresAt != null && Instant.now().plus(Duration.ofMinutes(10)).isAfter(tokenExpiresAt);
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
    long id = job.id;
    snapshot(); // before credits are spent: whoever owns the session next must not send it again
    emit(RequestState.RUNNING, job.phase,
        job.action == Action.EDIT ? "Sending the edit to the agent" : "Asking the agent to generate the video", null);
    Pair<UniqueKillSwitch, CompletionStage<Done>> running =
        client.runSse(token, backendSessionId, job.request.text())
            .viaMat(KillSwitches.single(), Keep.right())
            .toMat(Sink.foreach(e -> getContext().getSelf().tell(new Agent(id, e))), Keep.both())
            .run(getContext().getSystem());
    job.stream = running.first();
    getContext().pipeToSelf(running.second(), (ok, err) -> new StreamEnded(id, err));
    Duration every = settings.stillWorkingInterval();
    timers.startTimerWithFixedDelay(key(TimerKind.STILL_WORKING), new TimerFired(id, TimerKind.STILL_WORKING), every);
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
        job.unchangedChecks = 0;
        emit(RequestState.RUNNING, job.phase, "The connection to the agent " + (s.code().equals("STREAM_CUT") ? "dropped" : "stalled")
            + "; the message is not sent again. Checking the result in " + seconds(settings.recoveryFirstCheck()), null);
        job.step = this::fetchState;
        timers.startSingleTimer(key(TimerKind.RECOVERY_CHECK), new TimerFired(job.id, TimerKind.RECOVERY_CHECK),
            settings.recoveryFirstCheck());
      } else if (t instanceof NemoException.Backend || t instanceof NemoException.Http) {
        // refused before any stream (1001, 1002, 2001, …): the message did not run; start over
        // from the state check once the identity is repaired
        job.before = null;
        return onCallFailed(new CallFailed(job.id, t));
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
    switch (job.action) {
      case GENERATE, EDIT -> afterStreamState(s, timeline);
      case STATE -> finish(RequestState.COMPLETED, timeline, new Result(null, timeline, null, null), null);
      case EXPORT -> {
        if (!s.hasExportableDraft()) {
          finish(RequestState.FAILED, "Nothing to export yet", null,
              new ErrorInfo("EMPTY_DRAFT", "The session has no tracks to export", false,
                  "Generate a video in this session first, then export"));
        } else {
          startRender(s);
        }
      }
      default -> throw new IllegalStateException("state fetched for " + job.action);
    }
    return this;
  }

  /** The state before the message (then open the stream), after it, or while recovering a drop. */
  private void afterStreamState(SessionState s, String timeline) {
    if (job.before == null) {
      job.before = s;
      openStream();
      return;
    }
    Result result = new Result(null, timeline, null, null);
    boolean changed = !s.fingerprint().equals(job.before.fingerprint());
    if (job.unchangedChecks >= 0) {
      if (changed) {
        finish(RequestState.COMPLETED,
            "The stream dropped, but the backend finished: " + TimelineDiff.describe(job.before.draft(), s.draft(), timeline),
            result, null);
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
    job.poller = new RenderPoller(settings.renderPollGrid(), settings.renderPollMargin(), settings.renderPollMinGap());
    Request.Output out = job.request.output() == null ? Request.Output.DEFAULT : job.request.output();
    long id = job.id;
    String renderId = job.renderId;
    emit(RequestState.RUNNING, Phase.RENDERING, "Export started", 0.0);
    run(Phase.RENDERING, () -> pipe(
        client.submitRender(token, renderId, backendSessionId, s.draft(),
            out.format() == null ? "mp4" : out.format(), out.quality() == null ? "high" : out.quality()),
        r -> new RenderUpdate(id, r, true), id));
    snapshot(); // the render id, so a new owner polls this job instead of submitting another
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
    Duration delay = m.submitted()
        ? job.poller.first()
        : job.poller.next(Duration.between(job.renderStarted, Instant.now()), r.progress());
    timers.startSingleTimer(key(TimerKind.POLL), new TimerFired(job.id, TimerKind.POLL), delay);
    return this;
  }

  private void pollRender() {
    long id = job.id;
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
      publishOne(c, RequestState.COMPLETED, "Cancelled " + target, h.replyTo());
    } else {
      publishOne(c, RequestState.FAILED, "Nothing to cancel: " + target + " already finished", h.replyTo());
    }
    return this;
  }

  private void publishOne(Request r, RequestState state, String message, ActorRef<Done> replyTo) {
    ErrorInfo err = state == RequestState.FAILED
        ? new ErrorInfo("NOT_CANCELLABLE", message, false, "It may have finished already: check its status")
        : null;
    publish(r, 1, state, Phase.DONE, message, null, null, err)
        .whenComplete((ok, e) -> replyTo.tell(Done.getInstance()));
  }

  // ------------------------------------------------------------------ failures, retries, timers

  private Behavior<Command> onCallFailed(CallFailed m) {
    if (stale(m.job())) {
      return this;
    }
    Throwable t = FailurePolicy.unwrap(m.failure());
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
      case STILL_WORKING -> {
        if (Duration.between(job.lastPublished, Instant.now()).compareTo(settings.stillWorkingInterval()) >= 0) {
          emit(RequestState.RUNNING, job.phase, "Still working…", null);
        }
      }
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
    job.lastPublished = Instant.now();
    publish(job.request, job.seq++, state, phase, message, progress, null, null);
  }

  private void finish(RequestState state, String message, Result result, ErrorInfo error) {
    Job done = job;
    timers.cancel(key(TimerKind.RETRY));
    timers.cancel(key(TimerKind.POLL));
    timers.cancel(key(TimerKind.STILL_WORKING));
    timers.cancel(key(TimerKind.RECOVERY_CHECK));
    timers.cancel(key(TimerKind.DEADLINE));
    publish(done.request, done.seq++, state, Phase.DONE, message, state == RequestState.COMPLETED ? 1.0 : null, result, error)
        .whenComplete(
            (ok, err) -> {
              if (err != null) {
                getContext().getSystem().log().error("terminal event of {} not published: {}", done.request.requestId(), err.toString());
              }
              done.replyTo.tell(Done.getInstance());
              registry.tell(new SessionRegistry.Finished(session, done.request.requestId()));
            });
    job = null;
    recentRequestIds.addLast(done.request.requestId());
    while (recentRequestIds.size() > RECENT) {
      recentRequestIds.removeFirst();
    }
    snapshot();
  }

  private static final int RECENT = 50;

  /**
   * Publishes the session's durable state: identity (the token encrypted), the request in flight
   * with its phase, render id and the state fingerprint from before a credit-spending call, the
   * recently finished requests, the next event seq.
   */
  private void snapshot() {
    SessionSnapshot.InFlight inFlight = job == null ? null : new SessionSnapshot.InFlight(
        job.request.requestId(), job.phase, job.renderId, job.before == null ? null : job.before.fingerprint(), job.seq);
    events.snapshot(new SessionSnapshot(SessionSnapshot.VERSION, sessionKey, tenant, clientId, userId, backendSessionId,
        taskId, token == null ? null : cipher.encrypt(token.reveal(), sessionKey), tokenExpiresAt, inFlight,
        java.util.List.copyOf(recentRequestIds), Instant.now()));
  }

  private CompletionStage<Void> publish(
      Request r, long seq, RequestState state, Phase phase, String message, Double progress, Result result, ErrorInfo error) {
    MDC.put("requestId", r.requestId());
    try {
      getContext().getLog().debug("{} {} {}", state, phase, message);
    } finally {
      MDC.remove("requestId");
    }
    return events.publish(new Event(Event.VERSION, r.requestId(), sessionKey, tenant, seq, Instant.now(), state, phase,
        message, progress, result, error));
  }

  private static Object key(TimerKind k) {
    return k;
  }
}
