package io.reelay.worker;

import static io.reelay.worker.Decisions.after;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.reelay.nemo.Answers.RenderJob;
import io.reelay.nemo.Answers.SessionState;
import io.reelay.nemo.NemoException;
import io.reelay.nemo.RenderPoller;
import io.reelay.protocol.Json;
import io.reelay.protocol.Phase;
import io.reelay.protocol.RequestState;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/**
 * The decisions of an export's render, called directly with the backend's answers and the time:
 * no actor, no broker, no backend.
 */
class RenderFollowTest {

  private static final Duration TIMEOUT = Duration.ofMinutes(10);
  private static final RenderPoller.Convention CONVENTION = new RenderPoller.Convention();
  private static final RenderFollow.Setup SETUP = new RenderFollow.Setup(TIMEOUT,
      () -> new RenderPoller(Duration.ofSeconds(30), Duration.ofSeconds(2), Duration.ofSeconds(1), CONVENTION),
      id -> "https://backend.test/download/" + id);
  private static final Instant T0 = Instant.parse("2026-12-01T10:00:00Z");

  private static RenderJob running(Integer progress) {
    return new RenderJob("r", "processing", progress, null, null, null);
  }

  @Test
  void theRenderIdComesFromTenantAndRequestIdSoARepeatIsTheSameJobAndNoTwoRequestsShareOne() {
    RenderFollow f = SETUP.follow("default", "req/1 ü", "Timeline (1 track)");
    assertThat(f.submit(T0)).isEqualTo("render_default_xreq_2F1_20_C3_BC");
    assertThat(SETUP.follow("default", "req/1 ü", null).submit(T0)).isEqualTo("render_default_xreq_2F1_20_C3_BC");
    assertThat(RenderFollow.renderIdFor("default", "r-1", 2)).isEqualTo("render_default_xr-1_r2");
    assertThat(RenderFollow.renderSubmitOf("render_default_xr-1_r2")).isEqualTo(2);
    assertThat(RenderFollow.renderSubmitOf("render_default_xmy_5Frun")).isEqualTo(1); // "_r" of a request id is escaped
    assertThat(RenderFollow.renderSubmitOf("render_my_run")).isEqualTo(1); // an id of an earlier version
    // injective: these once shared a render, and the second export completed with the first one's video
    assertThat(RenderFollow.renderIdFor("default", "e.1", 1)).isNotEqualTo(RenderFollow.renderIdFor("default", "e_1", 1));
    assertThat(RenderFollow.renderIdFor("a", "r", 1)).isNotEqualTo(RenderFollow.renderIdFor("b", "r", 1));
    assertThat(RenderFollow.renderIdFor("a_xb", "r", 1)).isNotEqualTo(RenderFollow.renderIdFor("a", "b_xr", 1));
    String longId = RenderFollow.renderIdFor("default", "x".repeat(128), 1);
    assertThat(longId).hasSizeLessThanOrEqualTo(128).matches("[A-Za-z0-9_-]+")
        .isNotEqualTo(RenderFollow.renderIdFor("default", "x".repeat(127) + "y", 1));
  }

  @Test
  void progressIsShownOnceEachAndPollsFollowThePollersSchedule() {
    RenderFollow f = SETUP.follow("default", "r-1", null);
    f.submit(T0);
    Next first = f.onUpdate(running(0), true, T0.plusMillis(100));
    Next.Say shown = (Next.Say) first;
    assertThat(shown.phase()).isEqualTo(Phase.RENDERING);
    assertThat(shown.text()).isEqualTo("Rendering: 0%");
    assertThat(shown.progress()).isEqualTo(0.0);
    Next.After poll = (Next.After) after(first);
    assertThat(poll.then()).isEqualTo(new Next.PollRender());
    assertThat(poll.in()).isPositive();

    f.polling(T0.plusSeconds(30));
    Next same = f.onUpdate(running(0), false, T0.plusSeconds(30).plusMillis(50));
    assertThat(same).isInstanceOf(Next.After.class); // nothing new to show
    f.polling(T0.plusSeconds(60));
    assertThat(((Next.Say) f.onUpdate(running(40), false, T0.plusSeconds(60))).text()).isEqualTo("Rendering: 40%");
  }

  @Test
  void aFinishedRenderEndsTheRequestWithItsUrlOrTheBackendsDownloadUrl() {
    RenderFollow f = SETUP.follow("default", "r-2", "Timeline (1 track): 1. Video: fox (0-5s)");
    String id = f.submit(T0);
    Next.Finish done = (Next.Finish) f.onUpdate(new RenderJob(id, "completed", 100, "https://cdn.test/v.mp4", null, 1L), true, T0);
    assertThat(done.state()).isEqualTo(RequestState.COMPLETED);
    assertThat(done.result().downloadUrl()).isEqualTo("https://cdn.test/v.mp4");
    assertThat(done.result().timeline()).contains("fox");
    Next.Finish noUrl = (Next.Finish) f.onUpdate(new RenderJob(id, "succeeded", 100, null, null, 1L), false, T0.plusSeconds(40));
    assertThat(noUrl.result().downloadUrl()).isEqualTo("https://backend.test/download/" + id);
  }

  @Test
  void aFailedRenderIsTriedOnceMoreUnderANewIdThenReported() {
    RenderFollow f = SETUP.follow("default", "r-3", null);
    assertThat(f.submit(T0)).isEqualTo("render_default_xr-3");
    Next again = f.onUpdate(new RenderJob("render_default_xr-3", "failed", null, null, "encoder", null), false, T0.plusSeconds(30));
    assertThat(((Next.Say) again).text()).contains("once more under a new id");
    assertThat(after(again)).isEqualTo(new Next.CheckDraft());
    assertThat(f.submit(T0.plusSeconds(31))).isEqualTo("render_default_xr-3_r2");
    Next.Finish failed = (Next.Finish) f.onUpdate(new RenderJob("render_default_xr-3_r2", "error", null, null, "encoder", null), false,
        T0.plusSeconds(60));
    assertThat(failed.state()).isEqualTo(RequestState.FAILED);
    assertThat(failed.error().code()).isEqualTo("RENDER_FAILED");
    assertThat(failed.error().reason()).isEqualTo("encoder");
  }

  @Test
  void aRenderThatTakesLongerThanTheTimeoutIsGivenUp() {
    RenderFollow f = SETUP.follow("default", "r-4", null);
    f.submit(T0);
    assertThat(f.onUpdate(running(10), true, T0)).isNotInstanceOf(Next.Finish.class);
    Next.Finish late = (Next.Finish) f.onUpdate(running(20), false, T0.plus(TIMEOUT).plusSeconds(1));
    assertThat(late.error().code()).isEqualTo("RENDER_TIMEOUT");
  }

  @Test
  void aResumedRenderIsPolledUnderItsIdAndSubmittedUnderItOnlyIfTheBackendNeverGotIt() {
    RenderFollow f = SETUP.resume("default", "r-5", "render_r-5", T0);
    assertThat(f.renderId()).isEqualTo("render_r-5");
    NemoException.Http missing = new NemoException.Http(404, "no such render", null);
    Next resubmit = f.onPollFailed(missing);
    assertThat(((Next.Say) resubmit).phase()).isEqualTo(Phase.EXPORTING);
    assertThat(after(resubmit)).isEqualTo(new Next.CheckDraft());
    assertThat(f.renderId()).isNull();
    assertThat(f.submit(T0)).isEqualTo("render_r-5"); // the same id: the backend never saw it
    // again when that submit too was refused on the way (a revoked token), up to three times in all
    assertThat(after(f.onPollFailed(missing))).isEqualTo(new Next.CheckDraft());
    assertThat(f.submit(T0)).isEqualTo("render_r-5");
    assertThat(after(f.onPollFailed(missing))).isEqualTo(new Next.CheckDraft());
    assertThat(f.submit(T0)).isEqualTo("render_r-5");
    assertThat(f.onPollFailed(missing)).isEqualTo(new Next.Failed(missing));
    // any other failure is for the session's failure path
    NemoException.Http busy = new NemoException.Http(503, "busy", null);
    assertThat(SETUP.resume("default", "r-6", "render_r-6", T0).onPollFailed(busy)).isEqualTo(new Next.Failed(busy));
  }

  @Test
  void anExportOfAnEmptyDraftSaysToGenerateFirst() throws Exception {
    JsonNode empty = Json.mapper().readTree("{\"draft\":{\"t\":[{\"tt\":0,\"sg\":[]}]}}");
    Next.Finish f = (Next.Finish) RenderFollow.draftChecked(new SessionState("s", "t", "n", empty));
    assertThat(f.error().code()).isEqualTo("EMPTY_DRAFT");
    JsonNode video = Json.mapper().readTree("{\"draft\":{\"t\":[{\"tt\":0,\"sg\":[{\"name\":\"fox\"}]}]}}");
    SessionState s = new SessionState("s", "t", "n", video);
    assertThat(RenderFollow.draftChecked(s)).isEqualTo(new Next.Render(s));
  }
}
