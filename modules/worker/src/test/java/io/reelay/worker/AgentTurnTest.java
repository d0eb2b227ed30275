package io.reelay.worker;

import static io.reelay.worker.Decisions.after;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.ConfigFactory;
import io.reelay.nemo.AgentEvent;
import io.reelay.nemo.Answers.Credits;
import io.reelay.nemo.Answers.SessionState;
import io.reelay.nemo.NemoException;
import io.reelay.protocol.Action;
import io.reelay.protocol.Json;
import io.reelay.protocol.Phase;
import io.reelay.protocol.RequestState;
import java.time.Duration;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.Test;

/**
 * The decisions of a generate or edit, called directly: no actor, no broker, no backend. What the
 * turn sees (agent events, the state before and after, how the stream ended) goes in; what the
 * session does next comes out as a {@link Next} value.
 */
class AgentTurnTest {

  private static final WorkerSettings SETTINGS = WorkerSettings.from(ConfigFactory.load());

  private static SessionState state(String json) {
    try {
      return new SessionState("s1", "t1", "task", Json.mapper().readTree(json));
    } catch (Exception e) {
      throw new IllegalArgumentException(e);
    }
  }

  private static final SessionState EMPTY = state("{\"draft\":{\"t\":[]}}");
  private static final SessionState VIDEO =
      state("{\"draft\":{\"t\":[{\"tt\":0,\"sg\":[{\"name\":\"fox\",\"st\":0,\"d\":5000}]}]}}");

  private static final Credits HUNDRED = new Credits(100, 0, 100);

  /** A turn whose message went out: the state before, then the credits before, then it is sent. */
  private static AgentTurn sent(Action action) {
    AgentTurn turn = new AgentTurn(action, SETTINGS);
    assertThat(turn.onState(EMPTY)).isEqualTo(new Next.CountCredits()); // the state before, then the credits
    assertThat(turn.countsCredits()).isTrue();
    assertThat(turn.onCredits(HUNDRED)).isEqualTo(new Next.Send()); // record both, then send
    assertThat(turn.countsCredits()).isFalse();
    assertThat(turn.fingerprintBefore()).isEqualTo(EMPTY.fingerprint() + ";credits=100,0");
    return turn;
  }

  /** Settles one check of a dropped stream in which the state did not change, with {@code credits} seen. */
  private static Next unchangedCheck(AgentTurn turn, Credits credits) {
    assertThat(turn.onState(EMPTY)).isEqualTo(new Next.CountCredits());
    return turn.onCredits(credits);
  }

  @Test
  void textsAreShownWithoutGuiInstructionsAndATrailingTemporaryIssueIsDropped() {
    AgentTurn turn = sent(Action.GENERATE);
    assertThat(turn.onEvent(new AgentEvent.Text("Done! I made the clip. Preview it in the timeline.", false, "agent")))
        .isEqualTo("Done! I made the clip.");
    assertThat(turn.onEvent(new AgentEvent.Text("partial", true, "agent"))).isNull();
    assertThat(turn.onEvent(new AgentEvent.Text("We encountered a temporary issue.", false, "agent"))).isNull();
    assertThat(turn.onEvent(new AgentEvent.ToolResult("generate_video"))).isNull();
  }

  @Test
  void aTurnThatEndsWithTextFinishesWithTheTimeline() {
    AgentTurn turn = sent(Action.EDIT);
    turn.onEvent(new AgentEvent.Text("Added a title.", false, "agent"));
    assertThat(turn.onStreamEnded(null)).isEqualTo(new Next.CheckState(null));
    Next end = turn.onState(VIDEO);
    assertThat(end).isInstanceOf(Next.Finish.class);
    Next.Finish f = (Next.Finish) end;
    assertThat(f.state()).isEqualTo(RequestState.COMPLETED);
    assertThat(f.result().timeline()).isEqualTo(turn.timeline()).contains("fox");
  }

  @Test
  void anAgentThatSaysClickExportIsFollowedByARenderOfTheDraft() {
    AgentTurn turn = sent(Action.GENERATE);
    turn.onEvent(new AgentEvent.Text("Your video is ready. Click Export to download it.", false, "agent"));
    turn.onStreamEnded(null);
    Next n = turn.onState(VIDEO);
    assertThat(((Next.Say) n).text()).contains("fox"); // the timeline first
    Next.Say second = (Next.Say) ((Next.Say) n).then();
    assertThat(second.phase()).isEqualTo(Phase.EXPORTING);
    assertThat(second.then()).isEqualTo(new Next.Render(VIDEO));
  }

  @Test
  void anAgentThatPointsAtTheAccountIsFollowedByACreditCheck() {
    AgentTurn turn = sent(Action.EDIT);
    turn.onEvent(new AgentEvent.Text("Check your account balance in the billing panel.", false, "agent"));
    turn.onStreamEnded(null);
    assertThat(after(turn.onState(VIDEO))).isEqualTo(new Next.CheckCredits());
  }

  @Test
  void aSilentEditSaysWhatChanged() {
    AgentTurn turn = sent(Action.EDIT);
    turn.onStreamEnded(null);
    Next.Finish f = (Next.Finish) turn.onState(VIDEO);
    assertThat(f.state()).isEqualTo(RequestState.COMPLETED);
    assertThat(f.message()).contains("fox");
  }

  @Test
  void aDroppedStreamIsNeverResentAndIsSettledFromTheState() {
    AgentTurn turn = sent(Action.EDIT);
    Next n = turn.onStreamEnded(new CompletionException(new NemoException.Stream("STREAM_CUT", "cut")));
    assertThat(((Next.Say) n).text()).contains("dropped").contains("not sent again");
    assertThat(after(n)).isEqualTo(new Next.After(SETTINGS.recoveryFirstCheck(), new Next.Advance()));
    // state and credits unchanged: look again through the window, then send it once more (the backend never took it)
    for (int check = 1; check < SETTINGS.recoveryMaxUnchanged(); check++) {
      Next again = unchangedCheck(turn, HUNDRED);
      assertThat(((Next.Say) again).text()).contains("check " + check + " of " + SETTINGS.recoveryMaxUnchanged());
      assertThat(after(again)).isEqualTo(new Next.After(SETTINGS.recoveryInterval(), new Next.CheckState(null)));
    }
    Next resend = unchangedCheck(turn, HUNDRED);
    assertThat(((Next.Say) resend).text()).startsWith("The backend never took the message").endsWith("sending it once more");
    assertThat(after(resend)).isEqualTo(new Next.Send());
    // dropped again and again unchanged: never a third time
    turn.onStreamEnded(new NemoException.Stream("STREAM_CUT", "cut"));
    for (int check = 1; check < SETTINGS.recoveryMaxUnchanged(); check++) {
      assertThat(after(unchangedCheck(turn, HUNDRED))).isInstanceOf(Next.After.class);
    }
    Next.Finish lost = (Next.Finish) unchangedCheck(turn, HUNDRED);
    assertThat(lost.state()).isEqualTo(RequestState.FAILED);
    assertThat(lost.error().code()).isEqualTo("STREAM_LOST");
    assertThat(lost.error().hint()).contains("sent twice");
  }

  @Test
  void creditsHeldForTheMessageMeanTheBackendTookItItIsNeverResent() {
    AgentTurn turn = sent(Action.GENERATE);
    turn.onStreamEnded(new NemoException.Http(502, "bad gateway", null)); // a lost answer: the turn runs anyway
    for (int check = 1; check <= 3 * SETTINGS.recoveryMaxUnchanged(); check++) {
      Next held = unchangedCheck(turn, new Credits(90, 10, 100));
      assertThat(((Next.Say) held).text()).startsWith("The backend took the message (10 credits are held for it)");
      assertThat(after(held)).isEqualTo(new Next.After(SETTINGS.recoveryInterval(), new Next.CheckState(null)));
    }
    Next n = turn.onState(VIDEO); // its work shows: followed as any dropped stream
    assertThat(after(n)).isEqualTo(new Next.Render(VIDEO));
  }

  @Test
  void creditsSpentWithTheStateUnchangedMeanTheTurnFinishedWithoutChangingTheTimeline() {
    AgentTurn turn = sent(Action.EDIT);
    turn.onStreamEnded(new NemoException.Transport("reset", new RuntimeException("reset")));
    Next.Finish f = (Next.Finish) unchangedCheck(turn, new Credits(98, 0, 98));
    assertThat(f.state()).isEqualTo(RequestState.COMPLETED);
    assertThat(f.message()).contains("2 credits spent").contains("reply was lost");
  }

  @Test
  void aTurnResumedWithoutCreditsEvidenceIsNeverResent() {
    AgentTurn turn = AgentTurn.resumed(Action.EDIT, SETTINGS, EMPTY.fingerprint()); // a snapshot of an earlier version
    for (int check = 1; check < SETTINGS.recoveryMaxUnchanged(); check++) {
      assertThat(after(unchangedCheck(turn, HUNDRED))).isInstanceOf(Next.After.class);
    }
    assertThat(((Next.Finish) unchangedCheck(turn, HUNDRED)).error().code()).isEqualTo("STREAM_LOST");
    AgentTurn withCredits = AgentTurn.resumed(Action.EDIT, SETTINGS, EMPTY.fingerprint() + ";credits=100,0");
    assertThat(withCredits.fingerprintBefore()).isEqualTo(EMPTY.fingerprint() + ";credits=100,0");
    assertThat(((Next.Say) unchangedCheck(withCredits, new Credits(95, 5, 100))).text()).startsWith("The backend took the message");
  }

  @Test
  void aDroppedGenerationThatChangedTheStateEndsWithItsVideo() {
    AgentTurn turn = sent(Action.GENERATE);
    turn.onStreamEnded(new NemoException.Stream("STREAM_STALLED", "silent"));
    Next n = turn.onState(VIDEO);
    assertThat(((Next.Say) n).text()).startsWith("The stream dropped, but the backend finished");
    assertThat(after(n)).isEqualTo(new Next.Render(VIDEO));
  }

  @Test
  void aDroppedEditThatChangedTheStateCompletes() {
    AgentTurn turn = sent(Action.EDIT);
    turn.onStreamEnded(new NemoException.Transport("reset", new RuntimeException("reset")));
    Next.Finish f = (Next.Finish) turn.onState(VIDEO);
    assertThat(f.state()).isEqualTo(RequestState.COMPLETED);
    assertThat(f.message()).startsWith("The stream dropped, but the backend finished");
  }

  @Test
  void aFiveHundredAsTheMessageGoesOutMayHaveRunSoItIsCheckedNotResent() {
    AgentTurn turn = sent(Action.GENERATE);
    Next n = turn.onStreamEnded(new NemoException.Http(502, "bad gateway", null));
    assertThat(((Next.Say) n).text()).contains("HTTP 502").contains("not sent again");
    assertThat(after(n)).isInstanceOf(Next.After.class);
  }

  @Test
  void aRefusalBeforeAnyStreamStartsOverFromTheStateOnceRepaired() {
    AgentTurn turn = sent(Action.GENERATE);
    NemoException.Backend expired = new NemoException.Backend(1001, 200, "token expired");
    assertThat(turn.onStreamEnded(expired)).isEqualTo(new Next.Failed(expired));
    assertThat(turn.fingerprintBefore()).isNull(); // the message did not run: the state before is taken again
    assertThat(turn.onState(EMPTY)).isEqualTo(new Next.CountCredits());
    assertThat(turn.onCredits(HUNDRED)).isEqualTo(new Next.Send());
    NemoException.Http tooLarge = new NemoException.Http(413, "too large", null);
    assertThat(turn.onStreamEnded(tooLarge)).isEqualTo(new Next.Failed(tooLarge));
  }

  @Test
  void aCallRepairedBeforeTheMessageWentOutTakesTheStateBeforeAgainAndSendsTheMessage() {
    AgentTurn turn = new AgentTurn(Action.GENERATE, SETTINGS);
    assertThat(turn.onState(EMPTY)).isEqualTo(new Next.CountCredits());
    // the credits call was refused (a revoked token) and repaired: the request goes on from the state check;
    // that state is still the state before the message, not the answer to it (once, this ended as a silent edit)
    assertThat(turn.onState(EMPTY)).isEqualTo(new Next.CountCredits());
    assertThat(turn.onCredits(HUNDRED)).isEqualTo(new Next.Send());
  }

  @Test
  void aTurnResumedFromASnapshotComparesWithTheFingerprintItRecorded() {
    AgentTurn turn = AgentTurn.resumed(Action.EDIT, SETTINGS, EMPTY.fingerprint());
    assertThat(turn.onState(VIDEO)).isInstanceOf(Next.Finish.class); // changed: the backend took the message
    AgentTurn unchanged = AgentTurn.resumed(Action.EDIT, SETTINGS, EMPTY.fingerprint());
    assertThat(after(unchangedCheck(unchanged, HUNDRED)))
        .isEqualTo(new Next.After(SETTINGS.recoveryInterval(), new Next.CheckState(null)));
  }

  @Test
  void aQuestionOfTheAgentEndsTheTurnAskingForAnEdit() throws Exception {
    AgentTurn turn = sent(Action.GENERATE);
    JsonNode args = Json.mapper().readTree("{\"questions\":[{\"prompt\":\"Which style?\"}]}");
    assertThat(turn.onEvent(new AgentEvent.ToolCall("ask_question", args))).contains("Which style?");
    turn.onStreamEnded(null);
    Next.Finish f = (Next.Finish) turn.onState(VIDEO);
    assertThat(f.message()).contains("Which style?").endsWith("Reply with an edit request in this session.");
  }

  @Test
  void waitsReadAsAPersonSaysThem() {
    assertThat(AgentTurn.seconds(Duration.ofMillis(300))).isEqualTo("300 ms");
    assertThat(AgentTurn.seconds(Duration.ofSeconds(30))).isEqualTo("30 s");
  }
}
