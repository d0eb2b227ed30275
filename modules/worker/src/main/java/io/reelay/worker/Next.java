package io.reelay.worker;

import io.reelay.nemo.Answers.SessionState;
import io.reelay.protocol.Event.ErrorInfo;
import io.reelay.protocol.Event.Result;
import io.reelay.protocol.Phase;
import io.reelay.protocol.RequestState;
import java.time.Duration;

/**
 * What a session does next with its current request: the decisions of {@link AgentTurn} and {@link
 * RenderFollow}, which {@code SessionActor} carries out (it makes the calls, sets the timers,
 * publishes the events). Values only, so a decision can be compared in a test.
 */
sealed interface Next {

  /** Tell the user {@code text} (a RUNNING event in {@code phase}; null: the request's phase), then {@code then}. */
  record Say(Phase phase, String text, Double progress, Next then) implements Next {
    Say(String text, Next then) {
      this(null, text, null, then);
    }
  }

  /** Record the request as in flight (whoever runs the session next resumes it from there), then {@link Advance}. */
  record Start() implements Next {}

  /** Identity first if the request needs it (a token, a backend session), then the request's next call from where it was. */
  record Advance() implements Next {}

  /** {@code then}, after {@code in} (a retry, a poll, a check of the state). */
  record After(Duration in, Next then) implements Next {}

  /** Get a token (anonymous, for the session's client id). */
  record SignIn() implements Next {}

  /** Open a backend session. */
  record OpenSession() implements Next {}

  /** The state before the message is known: record it (a new owner must find it), then send the message to the agent. */
  record Send() implements Next {}

  /** Look at the backend's state now, in {@code phase} (null: the request's phase). */
  record CheckState(Phase phase) implements Next {}

  /** Check the draft, then export it (an export, a render tried again). */
  record CheckDraft() implements Next {}

  /** Export {@code draft} (record the render id, then submit). */
  record Render(SessionState draft) implements Next {}

  /** Poll the render now. */
  record PollRender() implements Next {}

  /** Check the credits (a credits request, or the agent pointed at the account): they end the request. */
  record CheckCredits() implements Next {}

  /** Look at the credits as evidence for the agent turn (before its message, or whether a dropped one was taken). */
  record CountCredits() implements Next {}

  /** Add the file at {@code url} to the session (the backend fetches it). */
  record UploadUrl(String url) implements Next {}

  /** Upload this local file, open since it was checked (the upload closes it). */
  record UploadFile(UploadCheck.LocalFile file) implements Next {}

  /** End the request. */
  record Finish(RequestState state, String message, Result result, ErrorInfo error) implements Next {}

  /** A call failed with nothing decided yet: repair the identity if that is the remedy, otherwise the request fails. */
  record Failed(Throwable failure) implements Next {}
}
