package io.reelay.worker;

import static io.reelay.worker.Decisions.after;
import static org.assertj.core.api.Assertions.assertThat;

import com.typesafe.config.ConfigFactory;
import io.reelay.nemo.Answers.Credits;
import io.reelay.nemo.NemoClient.UploadedFile;
import io.reelay.protocol.Action;
import io.reelay.protocol.Phase;
import io.reelay.protocol.Request;
import io.reelay.protocol.RequestState;
import io.reelay.protocol.SessionSnapshot.InFlight;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/** What a request needs next and how a resumed one goes on, called directly: no actor, no broker, no backend. */
class RunningRequestTest {

  private static final WorkerSettings SETTINGS = WorkerSettings.from(ConfigFactory.load());
  private static final RenderFollow.Setup RENDERS = new RenderFollow.Setup(Duration.ofMinutes(10), () -> null, id -> "dl/" + id);
  private static final Instant NOW = Instant.parse("2026-12-01T10:00:00Z");

  /** The events are only numbered here, never sent (no publisher). */
  private static RunningRequest running(Request r) {
    return new RunningRequest(1, r, 5, new RequestEvents(null).of(r, 2), SETTINGS, RENDERS);
  }

  private static RunningRequest running(Action action) {
    return running(Request.of("r-1", "s", "a fox", action));
  }

  @Test
  void identityComesFirstThenEachActionsOwnCall() {
    RunningRequest gen = running(Action.GENERATE);
    assertThat(gen.next(BackendIdentity.Need.TOKEN)).isEqualTo(new Next.SignIn());
    assertThat(gen.next(BackendIdentity.Need.SESSION)).isEqualTo(new Next.OpenSession());
    assertThat(gen.next(BackendIdentity.Need.NOTHING)).isEqualTo(new Next.CheckState(Phase.GENERATING));
    assertThat(running(Action.EDIT).next(BackendIdentity.Need.NOTHING)).isEqualTo(new Next.CheckState(Phase.EDITING));
    assertThat(running(Action.STATE).next(BackendIdentity.Need.NOTHING)).isEqualTo(new Next.CheckState(Phase.STATE));
    assertThat(running(Action.EXPORT).next(BackendIdentity.Need.NOTHING)).isEqualTo(new Next.CheckDraft());
    assertThat(running(Action.CREDITS).next(BackendIdentity.Need.NOTHING)).isEqualTo(new Next.CheckCredits());
  }

  @Test
  void anUploadIsCheckedAgainAsItGoes() {
    Request byUrl = new Request(1, "u-1", "s", null, "add this", Action.UPLOAD, null,
        new Request.Upload("https://cdn.test/clip.mp4", null, null, null), null, null, null, null);
    Next url = running(byUrl).next(BackendIdentity.Need.NOTHING);
    assertThat(((Next.Say) url).phase()).isEqualTo(Phase.UPLOADING);
    assertThat(after(url)).isEqualTo(new Next.UploadUrl("https://cdn.test/clip.mp4"));
    Request outside = new Request(1, "u-2", "s", null, "add this", Action.UPLOAD, null,
        new Request.Upload(null, "../../etc/passwd.mp4", null, null), null, null, null, null);
    Next.Finish refused = (Next.Finish) running(outside).next(BackendIdentity.Need.NOTHING);
    assertThat(refused.state()).isEqualTo(RequestState.REJECTED);
    assertThat(refused.message()).startsWith("Upload refused: ");
  }

  @Test
  void aResumedRenderIsPolledUnderItsIdNeverSubmittedAgain() {
    RunningRequest r = running(Action.EXPORT);
    Next n = r.resume(new InFlight("r-1", Phase.RENDERING, "render_r-1", null, 101), NOW);
    assertThat(((Next.Say) n).text()).contains("following the render already submitted");
    assertThat(after(n)).isEqualTo(new Next.Start());
    assertThat(r.renderId()).isEqualTo("render_r-1");
    assertThat(r.next(BackendIdentity.Need.NOTHING)).isEqualTo(new Next.PollRender());
    assertThat(r.inFlight().renderId()).isEqualTo("render_r-1");
  }

  @Test
  void aHandOverBeforeTheMessageWentSaysItWasNeverSentSoTheNextOwnerSendsIt() throws Exception {
    RunningRequest r = running(Action.GENERATE);
    // the state before the message is seen (the fingerprint a kill -9 would leave): the next step is to send
    r.onState(new io.reelay.nemo.Answers.SessionState("s1", "t1", "task",
        io.reelay.protocol.Json.mapper().readTree("{\"draft\":{\"t\":[]}}")));
    assertThat(r.inFlight().stateFingerprint()).as("recorded before the send").isNotNull();
    InFlight notSent = r.inFlightHandedOver();
    assertThat(notSent.stateFingerprint()).as("handed over before the stream started").isNull();
    assertThat(((Next.Say) running(Action.GENERATE).resume(notSent, NOW)).text()).contains("starts over");

    r.messageMayHaveGone = true; // the stream started
    assertThat(r.inFlightHandedOver().stateFingerprint()).isEqualTo(r.inFlight().stateFingerprint());
    // a request resumed with a fingerprint keeps it, whatever this owner did: a previous one may have sent it
    RunningRequest resumed = running(Action.GENERATE);
    resumed.resume(new InFlight("r-1", Phase.GENERATING, null, "fp-1", 101), NOW);
    assertThat(resumed.inFlightHandedOver().stateFingerprint()).isEqualTo("fp-1");
  }

  @Test
  void aMessageThatMayHaveReachedTheAgentIsLookedForNotSentAgain() {
    RunningRequest r = running(Action.GENERATE);
    Next n = r.resume(new InFlight("r-1", Phase.GENERATING, null, "fp-1", 101), NOW);
    assertThat(((Next.Say) n).text()).contains("the message is not sent again");
    assertThat(after(n)).isEqualTo(new Next.After(SETTINGS.recoveryFirstCheck(), new Next.Advance()));
    assertThat(r.inFlight().stateFingerprint()).isEqualTo("fp-1");
  }

  @Test
  void aRequestThatHadSpentNothingStartsOver() {
    RunningRequest r = running(Action.GENERATE);
    Next n = r.resume(new InFlight("r-1", Phase.SESSION, null, null, 101), NOW);
    assertThat(((Next.Say) n).text()).contains("starts over");
    assertThat(after(n)).isEqualTo(new Next.Start());
  }

  @Test
  void oneShotAnswersEndTheRequest() {
    Next.Finish credits = (Next.Finish) running(Action.CREDITS).onCredits(new Credits(80, 20, 100));
    assertThat(credits.message()).isEqualTo("Credits: 80 available, 20 held for running work");
    assertThat(credits.result().credits().total()).isEqualTo(100);
    Next.Finish uploaded = (Next.Finish) running(Action.UPLOAD)
        .onUploaded(List.of(new UploadedFile("clip.mp4", "video", "https://cdn.test/clip.mp4", 5.0, 640, 360)));
    assertThat(uploaded.message()).isEqualTo("Uploaded clip.mp4 (video)");
    assertThat(uploaded.result().media()).hasSize(1);
  }

  @Test
  void theSnapshotPromisesANewOwnerSeqsAboveEveryOneThisOwnerMayUse() {
    RunningRequest r = running(Action.GENERATE);
    InFlight first = r.inFlight();
    assertThat(first.nextSeq()).isEqualTo(2 + RequestEvents.SEQ_BLOCK);
    assertThat(first.requestId()).isEqualTo("r-1");
    assertThat(r.output()).isEqualTo(Request.Output.DEFAULT);
  }

  @Test
  void progressInEventsIsAFractionWhateverTheBackendSays() {
    assertThat(RequestEvents.fraction(1.07)).isEqualTo(1.0); // a backend counting to 107 %
    assertThat(RequestEvents.fraction(-0.1)).isEqualTo(0.0);
    assertThat(RequestEvents.fraction(0.42)).isEqualTo(0.42);
    assertThat(RequestEvents.fraction(null)).isNull();
    assertThat(RequestEvents.fraction(Double.NaN)).isNull();
  }
}
