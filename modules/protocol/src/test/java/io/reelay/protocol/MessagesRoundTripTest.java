package io.reelay.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class MessagesRoundTripTest {

  @Test
  void requestRoundTripsWithEveryField() {
    Request r =
        new Request(
            1, "r-1", "s-1", "acme", "a fox", Action.GENERATE, "en",
            new Request.Upload("https://x/y.mp4", null, "y.mp4", "video/mp4"),
            Request.Output.DEFAULT, null, "https://cb", Instant.parse("2026-01-01T00:00:00Z"));
    String json = Json.string(r);
    assertThat(json).contains("\"action\":\"generate\"").doesNotContain("cancels");
    assertThat(Json.read(json, Request.class)).isEqualTo(r);
  }

  @Test
  void eventRoundTrips() {
    Event e =
        new Event(
            1, "r-1", "s-1", "default", 7, Instant.parse("2026-01-01T00:00:01Z"),
            RequestState.COMPLETED, Phase.RENDERING, "done", 1.0,
            new Event.Result("http://x/r.mp4", "Timeline (1 tracks): 1. Video: fox (0-5s)",
                new Event.Credits(0, 0, 0), List.of(new Event.Media("a.mp4", "video", "u", 5.0))),
            new Event.ErrorInfo("2001", "out of credits", false, "register"));
    assertThat(Json.read(Json.bytes(e), Event.class)).isEqualTo(e);
    assertThat(Json.string(e)).doesNotContain("terminal"); // a helper, not a field on the wire
    assertThat(e.isTerminal()).isTrue();
  }

  @Test
  void snapshotRoundTrips() {
    SessionSnapshot s =
        new SessionSnapshot(
            1, "s-1", "default", "c-1", "anon_1", "123", "task_1", "en", "enc", Instant.EPOCH,
            new SessionSnapshot.InFlight("r-1", Phase.RENDERING, "render_r-1", "fp", 4),
            List.of("r-0"), 41L,
            new Event(1, "r-0", "s-1", "default", 9, Instant.EPOCH, RequestState.COMPLETED, Phase.DONE, "done", 1.0, null, null),
            Instant.EPOCH);
    assertThat(Json.read(Json.string(s), SessionSnapshot.class)).isEqualTo(s);
  }

  @Test
  void unknownFieldsAreIgnoredAndUnknownActionsRefused() {
    Request r = Json.read("{\"v\":1,\"requestId\":\"a\",\"sessionKey\":\"b\",\"future\":{}}", Request.class);
    assertThat(r.requestId()).isEqualTo("a");
    assertThatThrownBy(() -> Json.read("{\"v\":1,\"action\":\"explode\"}", Request.class))
        .hasStackTraceContaining("unknown action 'explode'");
  }

  @Test
  void routerFollowsTheSeedTable() {
    assertThat(IntentRouter.route("please export it", false)).isEqualTo(Action.EXPORT);
    assertThat(IntentRouter.route("导出视频", false)).isEqualTo(Action.EXPORT);
    assertThat(IntentRouter.route("send me the video", false)).isEqualTo(Action.EXPORT);
    assertThat(IntentRouter.route("how many credits left", false)).isEqualTo(Action.CREDITS);
    assertThat(IntentRouter.route("余额", false)).isEqualTo(Action.CREDITS);
    assertThat(IntentRouter.route("show tracks", false)).isEqualTo(Action.STATE);
    assertThat(IntentRouter.route("上传", false)).isEqualTo(Action.UPLOAD);
    assertThat(IntentRouter.route("anything", true)).isEqualTo(Action.UPLOAD);
    assertThat(IntentRouter.route("a fox running through a snowy forest", false))
        .isEqualTo(Action.GENERATE);
  }
}
