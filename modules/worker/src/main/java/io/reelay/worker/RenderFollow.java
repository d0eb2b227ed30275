package io.reelay.worker;

import io.reelay.nemo.Answers.RenderJob;
import io.reelay.nemo.Answers.SessionState;
import io.reelay.nemo.NemoClient;
import io.reelay.nemo.NemoException;
import io.reelay.nemo.RenderPoller;
import io.reelay.protocol.Event.ErrorInfo;
import io.reelay.protocol.Event.Result;
import io.reelay.protocol.Phase;
import io.reelay.protocol.RequestState;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * One export's render, followed to its end: the render id (derived from tenant and requestId, so a repeat
 * after failover is the same job), how many times it was submitted, when to poll next, what progress
 * the user has seen, and the decision ({@link Next}) on each answer of the backend. The session
 * carries the decisions out; times are passed in, so it is tested by calling it.
 */
final class RenderFollow {

  /**
   * What every render of a worker is followed with.
   *
   * @param timeout how long a render may take
   * @param pollers a new poll schedule for each render (they share what they learn of the backend)
   * @param downloadUrl the backend's download URL for a render id, when a finished render names none
   */
  record Setup(Duration timeout, Supplier<RenderPoller> pollers, Function<String, String> downloadUrl) {

    /** The worker's settings, polls sharing what {@code client} learnt of its backend's progress convention. */
    static Setup of(WorkerSettings s, NemoClient client) {
      return new Setup(s.renderTimeout(), () -> new RenderPoller(s.renderPollGrid(), s.renderPollMargin(), s.renderPollMinGap(),
          client.renderConvention()), client::fallbackDownloadUrl);
    }

    /** A new export's render ({@code timeline}: what the finished request reports of the timeline, null: nothing). */
    RenderFollow follow(String tenant, String requestId, String timeline) {
      return new RenderFollow(tenant, requestId, this, timeline);
    }

    /** A render a previous owner (or incarnation) submitted, or recorded just before submitting: followed under its id. */
    RenderFollow resume(String tenant, String requestId, String renderId, Instant now) {
      RenderFollow f = new RenderFollow(tenant, requestId, this, null);
      f.renderId = renderId;
      f.submits = renderSubmitOf(renderId);
      f.begin(now);
      return f;
    }
  }

  private static final int MAX_UNKNOWN = 3;

  private final String tenant;
  private final String requestId;
  private final Setup setup;
  private final String timeline;
  private String renderId;
  private int submits;
  private int reSubmittedUnknown; // submits of a render the backend turned out never to have got
  private String submitUnder; // the recorded id of a render the backend never got: submitted under it
  private RenderPoller poller;
  private Instant started;
  private Instant pollSent;
  private int polls; // sent for this render by this owner
  private Integer lastProgress;

  private RenderFollow(String tenant, String requestId, Setup setup, String timeline) {
    this.tenant = tenant;
    this.requestId = requestId;
    this.setup = setup;
    this.timeline = timeline;
  }

  /** The render id in use (null before the first submit): a snapshot carries it, so nobody submits it twice. */
  String renderId() {
    return renderId;
  }

  /** A new submit: answers the id it goes under (the first one the request's own, later ones numbered). */
  String submit(Instant now) {
    submits++;
    renderId = submitUnder != null ? submitUnder : renderIdFor(tenant, requestId, submits);
    submitUnder = null;
    begin(now);
    return renderId;
  }

  private void begin(Instant now) {
    started = now;
    pollSent = null;
    poller = setup.pollers().get();
  }

  /** A poll goes out now. */
  void polling(Instant now) {
    pollSent = now;
    polls++;
  }

  /** Polls sent for this render by this owner. */
  int polls() {
    return polls;
  }

  /** The draft an export found: exported, unless there is nothing to export. */
  static Next draftChecked(SessionState s) {
    return s.hasExportableDraft() ? new Next.Render(s) : new Next.Finish(RequestState.FAILED, "Nothing to export yet", null,
        new ErrorInfo("EMPTY_DRAFT", "The session has no tracks to export", false, "Generate a video in this session first, then export"));
  }

  /** The backend's answer to the submit ({@code submitted}) or to a poll. */
  Next onUpdate(RenderJob r, boolean submitted, Instant now) {
    if (r.isCompleted()) {
      if (!submitted) {
        poller.completed(sinceSubmit(now));
      }
      String url = r.outputUrl() != null ? r.outputUrl() : setup.downloadUrl().apply(renderId);
      return new Next.Finish(RequestState.COMPLETED, "Your video is ready", new Result(url, timeline, null, null), null);
    }
    if (r.isFailed()) {
      return submits < 2
          ? new Next.Say(Phase.RENDERING, "The render failed; trying once more under a new id", null, new Next.CheckDraft())
          : new Next.Finish(RequestState.FAILED, "The render failed twice", null, new ErrorInfo("RENDER_FAILED",
              r.error() == null ? "render failed" : r.error(), true, "Resubmit the export later"));
    }
    if (Duration.between(started, now).compareTo(setup.timeout()) > 0) {
      return new Next.Finish(RequestState.FAILED, "The render did not finish in time", null, new ErrorInfo("RENDER_TIMEOUT",
          "no result after " + setup.timeout(), true, "Resubmit the export: the same request id resumes the same render job"));
    }
    // the submit's own answer is not a poll: the first poll waits for the poller's first point
    Duration in;
    if (submitted) {
      poller.submitted(r.progress());
      in = poller.first();
    } else {
      in = poller.next(sinceSubmit(now), r.progress());
    }
    if (r.progress() == null || r.progress().equals(lastProgress)) {
      return new Next.After(in, new Next.PollRender());
    }
    lastProgress = r.progress();
    return new Next.Say(Phase.RENDERING, "Rendering: " + r.progress() + "%", r.progress() / 100.0, new Next.After(in, new Next.PollRender()));
  }

  /**
   * A poll failed. If the backend has no render under the id, it was recorded just before its submit
   * by an owner that stopped before the submit arrived: the backend never saw it, and submitting it
   * now under the same id is not a repeat (up to {@value #MAX_UNKNOWN} times: a submit refused on the
   * way, by a revoked token say, leaves the backend without it again). Anything else is for the
   * session's failure path.
   */
  Next onPollFailed(Throwable failure) {
    if (renderId == null || reSubmittedUnknown >= MAX_UNKNOWN || !notFound(failure)) {
      return new Next.Failed(failure);
    }
    reSubmittedUnknown++;
    submits--;
    submitUnder = renderId;
    renderId = null;
    return new Next.Say(Phase.EXPORTING, "The backend has no render under this export's id yet; submitting it now", null,
        new Next.CheckDraft());
  }

  /**
   * When the backend answered the last poll, as time since submit: halfway between sending it and
   * hearing back (the answer's progress is from then; a slow answer would otherwise skew the line).
   */
  private Duration sinceSubmit(Instant now) {
    Instant sent = pollSent == null ? now : pollSent;
    return Duration.between(started, sent.plus(Duration.between(sent, now).dividedBy(2)));
  }

  private static boolean notFound(Throwable t) {
    return (t instanceof NemoException.Backend b && (b.backendCode() == 404 || b.httpStatus() == 404))
        || (t instanceof NemoException.Http h && h.status() == 404);
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

  /**
   * The render id of a request's {@code submit}-th render: derived from (tenant, requestId), so a
   * repeat after failover is the same job, and injective, so no two requests share a job. Letters,
   * digits and '-' stay; every other character becomes '_' and its UTF-8 bytes in upper-case hex
   * ("e.1" → "e_2E1", "e_1" → "e_5F1"); "_x" separates tenant and request, "_r" a re-submit's
   * number, neither of which an escape can produce. Too long for a backend id: a digest instead.
   */
  static String renderIdFor(String tenant, String requestId, int submit) {
    String base = "render_" + escape(tenant) + "_x" + escape(requestId);
    if (base.length() > MAX_ID - 4) {
      base = "render_h" + sha256((tenant + "\u0000" + requestId).getBytes(StandardCharsets.UTF_8));
    }
    return submit <= 1 ? base : base + "_r" + submit;
  }

  /** Longest render id sent (the backend documents no limit; ids of other clients stay well below this). */
  private static final int MAX_ID = 128;

  private static String escape(String s) {
    StringBuilder sb = new StringBuilder();
    for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
      char c = (char) (b & 0xff);
      if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-') {
        sb.append(c);
      } else {
        sb.append('_').append(HEX[(b >> 4) & 0xf]).append(HEX[b & 0xf]);
      }
    }
    return sb.toString();
  }

  private static final char[] HEX = "0123456789ABCDEF".toCharArray();

  private static String sha256(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is part of every JVM", e);
    }
  }
}
