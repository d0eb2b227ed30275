package io.reelay.worker;

import io.reelay.nemo.AgentEvent;
import io.reelay.nemo.Answers.Credits;
import io.reelay.nemo.Answers.SessionState;
import io.reelay.nemo.FailurePolicy;
import io.reelay.nemo.NemoException;
import io.reelay.nemo.TimelineDiff;
import io.reelay.nemo.TimelineSummary;
import io.reelay.protocol.Action;
import io.reelay.protocol.Event.ErrorInfo;
import io.reelay.protocol.Event.Result;
import io.reelay.protocol.Phase;
import io.reelay.protocol.RequestState;
import java.time.Duration;
import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;

/**
 * One generate or edit, as far as the agent's stream goes: the state before the message, what the
 * stream says (texts shown, GUI instructions followed, a question), how it ended, and, after a
 * dropped stream, the evidence that settles whether the message ran (the state checked against the
 * one from before). It decides; the session carries the decisions out (sends, emits, renders,
 * finishes, schedules the next check: see {@link Next}). No actor, no I/O: tested by calling it.
 */
final class AgentTurn {

  private static final String TEMPORARY_ISSUE = "encountered a temporary issue";

  private final Action action;
  private final WorkerSettings settings;
  private SessionState before;
  private String beforeFingerprint; // of the state before the message, when only that is known (resumed)
  private Credits creditsBefore; // the account before the message: the evidence of a message taken
  private boolean countingCredits; // the credits asked for are the evidence (not the credits a person asked for)
  private boolean resent; // sent once more, when state and credits showed the backend never took it
  private boolean sent; // the message went out (or may have): the state seen next is evidence, not the state before
  private boolean sawText;
  private final Set<GuiTranslator.GuiAction> guiActions = EnumSet.noneOf(GuiTranslator.GuiAction.class);
  private String timeline;
  private String question;
  private int unchangedChecks = -1; // >= 0 while settling a dropped stream

  AgentTurn(Action action, WorkerSettings settings) {
    this.action = action;
    this.settings = settings;
  }

  /**
   * A turn a previous owner (or incarnation) left while the agent was working: the message is not
   * sent again, and the state is compared with {@code fingerprint}, the one from before it.
   */
  static AgentTurn resumed(Action action, WorkerSettings settings, String fingerprint) {
    AgentTurn t = new AgentTurn(action, settings);
    int credits = fingerprint.indexOf(CREDITS);
    t.beforeFingerprint = credits < 0 ? fingerprint : fingerprint.substring(0, credits);
    if (credits >= 0) {
      String[] af = fingerprint.substring(credits + CREDITS.length()).split(",");
      long available = Long.parseLong(af[0]);
      long frozen = Long.parseLong(af[1]);
      t.creditsBefore = new Credits(available, frozen, available + frozen);
    }
    t.unchangedChecks = 0;
    t.sent = true;
    return t;
  }

  private static final String CREDITS = ";credits=";

  /**
   * What was seen before the message (null until the state was): the state's fingerprint and the
   * credits (available, frozen). A snapshot carries it, so whoever settles a dropped stream has the
   * same evidence.
   */
  String fingerprintBefore() {
    String state = stateBefore();
    return state == null || creditsBefore == null ? state
        : state + CREDITS + creditsBefore.available() + "," + creditsBefore.frozen();
  }

  private String stateBefore() {
    return before != null ? before.fingerprint() : beforeFingerprint;
  }

  /** The timeline as the agent left it (null until the state after the stream was seen). */
  String timeline() {
    return timeline;
  }

  // ------------------------------------------------------------------ the stream

  /** What of an agent event the user sees (null: nothing): replies without GUI instructions, and the agent's questions. */
  String onEvent(AgentEvent event) {
    if (event instanceof AgentEvent.Text t && !t.partial()) {
      String text = t.text().strip();
      if (sawText && text.toLowerCase(Locale.ROOT).contains(TEMPORARY_ISSUE)) {
        return null; // a trailing "temporary issue" after normal replies means nothing (the seed)
      }
      sawText = true;
      guiActions.addAll(GuiTranslator.actions(text));
      String shown = GuiTranslator.strip(text);
      return shown.isEmpty() ? null : shown;
    }
    if (event instanceof AgentEvent.ToolCall c && c.name().equals("ask_question")) {
      // the agent waits for the user: the one tool call a person must see (answer with an edit)
      question = Questions.describe(c.args());
      sawText = true;
      return question;
    }
    return null; // other tool calls and results stay internal; heartbeats only keep the stall detector happy
  }

  /**
   * The stream ended: the state shows what the message did. Dropped, stalled, a 5xx or a broken
   * connection as the message went out: it may have reached the agent, and sending it again could
   * run and charge it twice, so the state settles it. Refused before any stream (1001, 1002, 2001,
   * 402, …): it did not run, and starts over once the failure is repaired.
   */
  Next onStreamEnded(Throwable failure) {
    if (failure == null) {
      return new Next.CheckState(null);
    }
    Throwable t = FailurePolicy.unwrap(failure);
    String checking = "Checking the result in " + seconds(settings.recoveryFirstCheck());
    if (t instanceof NemoException.Stream s && !"STREAM_ERROR".equals(s.code())) {
      return recover("The connection to the agent " + (s.code().equals("STREAM_CUT") ? "dropped" : "stalled")
          + "; the message is not sent again. " + checking);
    }
    if (t instanceof NemoException.Backend || (t instanceof NemoException.Http h && refusedUnread(h))) {
      before = null; // start over from the state check once the identity is repaired
      creditsBefore = null;
      sent = false;
      return new Next.Failed(t);
    }
    if (t instanceof NemoException.Http || t instanceof NemoException.Transport) {
      return recover((t instanceof NemoException.Http h
              ? "The backend answered HTTP " + h.status() + " to the message"
              : "The connection failed while the message was sent")
          + "; it may have reached the agent, so it is not sent again. " + checking);
    }
    return new Next.Failed(t);
  }

  /** Never re-sent: the state is checked after the first interval. */
  private Next recover(String note) {
    unchangedChecks = 0;
    return new Next.Say(note, new Next.After(settings.recoveryFirstCheck(), new Next.Advance()));
  }

  // ------------------------------------------------------------------ the state

  /** The backend's state, before the message, after the stream, or while a dropped stream is settled. */
  Next onState(SessionState s) {
    String now = TimelineSummary.of(s.draft());
    if (!sent) {
      // the state before the message (again, when a call on the way failed and was repaired)
      before = s;
      countingCredits = true; // then the credits, then the message
      return new Next.CountCredits();
    }
    return unchangedChecks >= 0 ? settle(s, now) : afterStream(s, now);
  }

  /** Whether the credits asked for last are this turn's evidence (then {@link #onCredits} takes them). */
  boolean countsCredits() {
    return countingCredits;
  }

  /**
   * The account, before the message (then it is sent) or while a dropped stream is settled with
   * the state unchanged: credits held or spent since show the backend took the message, and it is
   * never sent again; credits unchanged through the whole check window show it never arrived, and
   * it is sent once more.
   */
  Next onCredits(Credits c) {
    countingCredits = false;
    if (!sent) {
      creditsBefore = c;
      sent = true;
      return new Next.Send();
    }
    if (creditsBefore != null && c.frozen() > creditsBefore.frozen()) {
      return new Next.Say("The backend took the message (" + (c.frozen() - creditsBefore.frozen())
          + " credits are held for it) and is still working; looking again in " + seconds(settings.recoveryInterval()),
          new Next.After(settings.recoveryInterval(), new Next.CheckState(null)));
    }
    if (creditsBefore != null && c.available() < creditsBefore.available()) {
      String now = before == null ? "" : " " + TimelineSummary.of(before.draft());
      return new Next.Finish(RequestState.COMPLETED, "The stream dropped, but the backend finished the message (" + (creditsBefore.available()
          - c.available()) + " credits spent); its reply was lost with the stream and the timeline did not change." + now,
          new Result(null, timeline, null, null), null);
    }
    if (++unchangedChecks < settings.recoveryMaxUnchanged()) {
      return new Next.Say("No change yet (check " + unchangedChecks + " of " + settings.recoveryMaxUnchanged()
          + "); looking again in " + seconds(settings.recoveryInterval()),
          new Next.After(settings.recoveryInterval(), new Next.CheckState(null)));
    }
    if (creditsBefore != null && !resent) {
      // state and credits unchanged through the whole window: the backend never took it (what the hint
      // told a person to do by hand; under the same request, once)
      resent = true;
      unchangedChecks = -1;
      return new Next.Say("The backend never took the message (state and credits unchanged after " + settings.recoveryMaxUnchanged()
          + " checks); sending it once more", new Next.Send());
    }
    return new Next.Finish(RequestState.FAILED, "The connection dropped and nothing changed after " + unchangedChecks + " checks", null,
        new ErrorInfo("STREAM_LOST", "the stream dropped and the backend state did not change", true, resent
            ? "It was sent twice and the backend took neither; send the request again later under a new requestId"
            : "The message was not sent again, to avoid paying twice; send the request again under a new requestId"));
  }

  private Next settle(SessionState s, String now) {
    if (!s.fingerprint().equals(stateBefore())) {
      String what = "The stream dropped, but the backend finished: "
          + (before == null ? now : TimelineDiff.describe(before.draft(), s.draft(), now));
      if (action == Action.GENERATE && settings.followGuiExport() && s.hasExportableDraft()) {
        // the agent's reply went with the stream; it ends every generation by asking for an export,
        // so the request ends as it would have: with the video (the same as a request never cut)
        timeline = now;
        return new Next.Say(what, new Next.Say(Phase.EXPORTING, "The agent's reply was lost with the stream; it asks for an"
            + " export after every generation, so rendering the video", null, new Next.Render(s)));
      }
      return new Next.Finish(RequestState.COMPLETED, what, new Result(null, now, null, null), null);
    }
    countingCredits = true; // the state did not change: the credits tell whether the backend took the message
    return new Next.CountCredits();
  }

  private Next afterStream(SessionState s, String now) {
    timeline = now;
    Result result = new Result(null, now, null, null);
    if (guiActions.contains(GuiTranslator.GuiAction.EXPORT) && settings.followGuiExport() && s.hasExportableDraft()) {
      // the agent told the user to click Export: there is no button here, so export by API
      return new Next.Say(now, new Next.Say(Phase.EXPORTING, "The agent suggests exporting: rendering the video", null,
          new Next.Render(s)));
    }
    if (guiActions.contains(GuiTranslator.GuiAction.CREDITS)) {
      return new Next.Say(now, new Next.CheckCredits());
    }
    if (question != null) {
      return new Next.Finish(RequestState.COMPLETED, question + " Reply with an edit request in this session.", result, null);
    }
    if (sawText) {
      return new Next.Finish(RequestState.COMPLETED, now, result, null);
    }
    // a silent edit: say what changed, as the seed asks
    return new Next.Finish(RequestState.COMPLETED, TimelineDiff.describe(before.draft(), s.draft(), "No visible change; " + now), result,
        null);
  }

  /** A 4xx answer to the message: refused as it arrived, never run (a 5xx or 408 may have run it). */
  private static boolean refusedUnread(NemoException.Http h) {
    return h.status() >= 400 && h.status() < 500 && h.status() != 408;
  }

  /** A wait as a person reads it. */
  static String seconds(Duration d) {
    return d.toMillis() < 1000 ? d.toMillis() + " ms" : Math.round(d.toMillis() / 1000.0) + " s";
  }
}
