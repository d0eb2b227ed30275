package io.reelay.worker;

import io.reelay.nemo.Answers.Credits;
import io.reelay.nemo.Answers.SessionState;
import io.reelay.nemo.FailurePolicy.Remedy;
import io.reelay.nemo.NemoClient.UploadedFile;
import io.reelay.nemo.TimelineSummary;
import io.reelay.protocol.Action;
import io.reelay.protocol.Event;
import io.reelay.protocol.Event.ErrorInfo;
import io.reelay.protocol.Event.Media;
import io.reelay.protocol.Event.Result;
import io.reelay.protocol.Phase;
import io.reelay.protocol.Request;
import io.reelay.protocol.RequestState;
import io.reelay.protocol.SessionSnapshot.InFlight;
import java.time.Instant;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.apache.pekko.stream.UniqueKillSwitch;

/**
 * The request a session is running: where it stands, what it learnt on the way (the agent turn of a
 * generate or edit, the render of an export), and what it needs next. Confined to its session,
 * which makes the calls; the decisions here are {@link Next} values, made without I/O.
 */
final class RunningRequest {

  /** Tells the session's results apart: an answer tagged with an older job is dropped. */
  final long job;
  final Request request;
  final Action action;
  /** The request's offset on the requests topic (-1: not read from Kafka). */
  final long offset;
  final RequestEvents.Sequence events;
  /** The identity repairs this request had, per remedy. */
  final Map<Remedy, Integer> repaired = new EnumMap<>(Remedy.class);
  private final WorkerSettings settings;
  private final RenderFollow.Setup renders;
  Phase phase = Phase.QUEUED;
  /** A token was got for this request (then it is used even if it expires soon). */
  boolean signedIn;
  /** What a STEP timer carries out. */
  Next pending;
  /** The open agent stream, while there is one. */
  UniqueKillSwitch stream;
  /**
   * The message may have reached the agent: this owner started its stream, or a previous one may
   * have. Until then a hand-over says it was never sent, so the next owner sends it.
   */
  boolean messageMayHaveGone;
  private AgentTurn turn;
  private RenderFollow render;

  RunningRequest(long job, Request request, long offset, RequestEvents.Sequence events, WorkerSettings settings,
      RenderFollow.Setup renders) {
    this.job = job;
    this.request = request;
    this.action = request.effectiveAction();
    this.offset = offset;
    this.events = events;
    this.settings = settings;
    this.renders = renders;
    this.turn = action == Action.GENERATE || action == Action.EDIT ? new AgentTurn(action, settings) : null;
  }

  /**
   * Goes on with a request a previous owner (or incarnation) was working on, without paying twice:
   * a submitted render is polled under the same id, a message that may have reached the agent is
   * never sent again (its result is looked for), anything else had spent nothing and starts over.
   */
  Next resume(InFlight was, Instant now) {
    if (was.renderId() != null) {
      render = renders.resume(request.tenantOrDefault(), request.requestId(), was.renderId(), now);
      return new Next.Say(Phase.RENDERING, "Resumed from the session's last snapshot: following the render already submitted",
          null, new Next.Start());
    }
    if (was.stateFingerprint() != null && (was.phase() == Phase.GENERATING || was.phase() == Phase.EDITING)) {
      turn = AgentTurn.resumed(action, settings, was.stateFingerprint());
      messageMayHaveGone = true;
      return new Next.Say(was.phase(), "Resumed from the session's last snapshot while the agent was working; the message is"
          + " not sent again. Checking the result in " + AgentTurn.seconds(settings.recoveryFirstCheck()), null,
          new Next.After(settings.recoveryFirstCheck(), new Next.Advance()));
    }
    return new Next.Say(was.phase() == null ? Phase.QUEUED : was.phase(),
        "Resumed from the session's last snapshot; nothing had been spent yet, so it starts over", null, new Next.Start());
  }

  /** What the request needs next, given what its identity needs first. */
  Next next(BackendIdentity.Need identity) {
    return switch (identity) {
      case TOKEN -> new Next.SignIn();
      case SESSION -> new Next.OpenSession();
      case NOTHING -> renderId() != null ? new Next.PollRender() // never a second submit for the same export
          : switch (action) {
            case GENERATE -> new Next.CheckState(Phase.GENERATING);
            case EDIT -> new Next.CheckState(Phase.EDITING);
            case EXPORT -> new Next.CheckDraft();
            case STATE -> new Next.CheckState(Phase.STATE);
            case CREDITS -> new Next.CheckCredits();
            case UPLOAD -> upload();
            case CANCEL -> throw new IllegalStateException("cancel is never queued");
          };
    };
  }

  /** The request's upload, checked once more as it goes (the worker refused bad ones at the door; a file may have changed since). */
  private Next upload() {
    UploadCheck.Verdict v = UploadCheck.check(request.upload(), request.tenantOrDefault(), settings.mediaDir(), settings.maxUploadBytes());
    if (v instanceof UploadCheck.Url u) {
      return new Next.Say(Phase.UPLOADING, "Adding the file from its URL", null, new Next.UploadUrl(u.url()));
    }
    if (v instanceof UploadCheck.LocalFile f) {
      return new Next.Say(Phase.UPLOADING, "Uploading " + f.name() + " (" + f.bytes() / 1024 + " KiB)", null,
          new Next.UploadFile(f));
    }
    UploadCheck.Refused r = (UploadCheck.Refused) v;
    return new Next.Finish(RequestState.REJECTED, "Upload refused: " + r.reason(), null, new ErrorInfo(r.code(), r.reason(), false,
        r.hint()));
  }

  /** The request ends because the snapshot that had to come first (before a spend) was not taken by Kafka. */
  Next notRecorded(Throwable failure) {
    return new Next.Finish(RequestState.FAILED, "Not sent: the session's state could not be recorded", null,
        new ErrorInfo("STATE_NOT_RECORDED", "Kafka did not take the session snapshot: " + failure.getClass().getSimpleName(),
            true, "Nothing was sent to the backend and nothing was spent; send the request again under a new requestId"));
  }

  /** The request's deadline passed. */
  Next deadlinePassed() {
    return new Next.Finish(RequestState.FAILED, "Gave up after " + settings.requestDeadline(), null,
        new ErrorInfo("DEADLINE", "the request took longer than " + settings.requestDeadline(), true,
            "Check the session state; resubmit if nothing changed"));
  }

  /** The export's output, with the backend's defaults filled in. */
  Request.Output output() {
    Request.Output out = request.output() == null ? Request.Output.DEFAULT : request.output();
    return new Request.Output(out.format() == null ? "mp4" : out.format(), out.quality() == null ? "high" : out.quality());
  }

  /** The backend's state: an export's draft check (also a generation's export), the agent turn's evidence, or a state request's answer. */
  Next onState(SessionState s) {
    if (phase == Phase.EXPORTING) {
      return RenderFollow.draftChecked(s);
    }
    if (turn != null) {
      return turn.onState(s);
    }
    String timeline = TimelineSummary.of(s.draft());
    return new Next.Finish(RequestState.COMPLETED, timeline, new Result(null, timeline, null, null), null);
  }

  Next onCredits(Credits c) {
    if (turn != null && turn.countsCredits()) {
      return turn.onCredits(c);
    }
    return new Next.Finish(RequestState.COMPLETED, "Credits: " + c.available() + " available, " + c.frozen() + " held for running work",
        new Result(null, timeline(), new Event.Credits(c.available(), c.frozen(), c.total()), null), null);
  }

  Next onUploaded(List<UploadedFile> files) {
    List<Media> media = files.stream().map(f -> new Media(f.filename(), f.fileType(), f.cdnUrl(), f.duration())).toList();
    String names = media.stream().map(x -> x.fileName() + (x.fileType() == null ? "" : " (" + x.fileType() + ")"))
        .collect(Collectors.joining(", "));
    return new Next.Finish(RequestState.COMPLETED, "Uploaded " + (names.isEmpty() ? "nothing" : names),
        new Result(null, null, null, media), null);
  }

  /** The agent turn of a generate or edit (null for other actions). */
  AgentTurn turn() {
    return turn;
  }

  /** The export's render, once there is one (null before). */
  RenderFollow render() {
    return render;
  }

  /** A new submit of the export's render: its id. */
  String submitRender(Instant now) {
    if (render == null) {
      render = renders.follow(request.tenantOrDefault(), request.requestId(), timeline());
    }
    return render.submit(now);
  }

  /** The render id in use (null: none submitted). */
  String renderId() {
    return render == null ? null : render.renderId();
  }

  /** What the finished request reports of the timeline (null: nothing seen). */
  String timeline() {
    return turn == null ? null : turn.timeline();
  }

  /** The request as a snapshot carries it: its phase, render id, the state fingerprint from before a spend, a new seq block. */
  InFlight inFlight() {
    return new InFlight(request.requestId(), phase, renderId(), turn == null ? null : turn.fingerprintBefore(), events.reserve());
  }

  /**
   * The same for a hand-over, where this owner knows whether it sent the message: one never sent
   * (stopped between recording "about to send" and sending) is handed over as not sent, without the
   * fingerprint, so the next owner sends it instead of waiting for a result that cannot come.
   */
  InFlight inFlightHandedOver() {
    InFlight f = inFlight();
    return messageMayHaveGone || f.stateFingerprint() == null ? f
        : new InFlight(f.requestId(), f.phase(), f.renderId(), null, f.nextSeq());
  }
}
