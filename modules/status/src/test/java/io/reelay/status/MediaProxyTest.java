package io.reelay.status;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.ConfigFactory;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.reelay.protocol.Event;
import io.reelay.protocol.Json;
import io.reelay.protocol.Phase;
import io.reelay.protocol.RequestState;
import java.io.InputStream;
import java.net.ServerSocket;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.util.ByteString;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * The signed media links and the proxy behind them, against a real file host on loopback
 * ({@link Upstream}): who may have a link, what a link may open, the bytes and ranges that come
 * back, and that the backend's URL (and its token) never reaches an answer or a log.
 */
class MediaProxyTest {

  static final String KEY_A = "key-a";
  static final String KEY_B = "key-b";
  static final String LINK_KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="; // bytes 0..31

  static final ActorTestKit testKit = ActorTestKit.create();
  static final TestStore store = new TestStore();
  static final StatusQueries view = store.queries();
  static final ListAppender<ILoggingEvent> logs = new ListAppender<>();
  static Upstream upstream;
  static ServerBinding binding;
  static Http http;
  static MediaLinks links;
  static int closedPort;

  @BeforeAll
  static void bind() throws Exception {
    logs.start();
    ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).addAppender(logs);
    upstream = new Upstream(testKit.system());
    try (ServerSocket s = new ServerSocket(0)) {
      closedPort = s.getLocalPort();
    }
    StatusSettings settings = StatusSettings.from(ConfigFactory.parseMap(Map.of(
            "media-links.key", LINK_KEY, "media-links.upstream-timeout", "1s", "media-links.max-redirects", "2",
            "media-links.hosts", "127.0.0.1"))
        .withFallback(ConfigFactory.load().getConfig("reelay.status"))).withPort(0);
    links = new MediaLinks(settings.mediaLinks(), view);
    StatusRoutes routes = new StatusRoutes(settings, Map.of(KEY_A, "tenant-a", KEY_B, "tenant-b"), view, new RecordingPublisher(),
        () -> true, new PrometheusMeterRegistry(PrometheusConfig.DEFAULT));
    binding = org.apache.pekko.http.javadsl.Http.get(testKit.system()).newServerAt("127.0.0.1", 0).bind(routes.route())
        .toCompletableFuture().get(10, TimeUnit.SECONDS);
    http = new Http("http://127.0.0.1:" + binding.localAddress().getPort());

    video("req-video", "tenant-a", upstream.url("/files/video.mp4"));
    video("req-b", "tenant-b", upstream.url("/files/video.mp4"));
    video("req-broken", "tenant-a", upstream.url("/broken"));
    video("req-gone", "tenant-a", upstream.url("/gone"));
    video("req-moved", "tenant-a", upstream.url("/moved"));
    video("req-loop", "tenant-a", upstream.url("/loop"));
    video("req-to-file", "tenant-a", upstream.url("/to-file"));
    video("req-page", "tenant-a", upstream.url("/page"));
    video("req-octets", "tenant-a", upstream.url("/octets"));
    video("req-silent", "tenant-a", upstream.url("/silent"));
    video("req-stall", "tenant-a", upstream.url("/stall"));
    video("req-hang", "tenant-a", upstream.url("/hang"));
    video("req-closed", "tenant-a", "http://127.0.0.1:" + closedPort + "/files/video.mp4?token=" + Upstream.TOKEN);
    video("req-ftp", "tenant-a", "ftp://127.0.0.1/video.mp4?token=" + Upstream.TOKEN);
    video("req-local", "tenant-a", "file:///etc/passwd");
    video("req-nonsense", "tenant-a", "http://[not a host/" + Upstream.TOKEN);
    // the same upstream by a name that is not in media-links.hosts: never fetched, though it is this machine
    video("req-other-host", "tenant-a", upstream.url("/files/video.mp4").replace("127.0.0.1", "localhost"));
    store.apply(Events.event("req-running", "s", "tenant-a", 1, RequestState.RUNNING), Instant.now());
    store.apply(Events.event("req-plain", "s", "tenant-a", 1, RequestState.COMPLETED), Instant.now());
  }

  static void video(String id, String tenant, String downloadUrl) {
    store.apply(new Event(Event.VERSION, id, "s", tenant, 1, Instant.now(), RequestState.COMPLETED, Phase.DONE, "Your video is ready",
        1.0, new Event.Result(downloadUrl, null, null, null), null), Instant.now());
  }

  @AfterAll
  static void unbind() throws Exception {
    ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).detachAppender(logs);
    binding.unbind();
    upstream.close();
    testKit.shutdownTestKit();
  }

  @Test
  void aLinkIsForTheKeysTenantAndOnlyForARequestWithAVideo() {
    assertThat(http.get("/v1/requests/req-video/media-link", null).status()).isEqualTo(401);
    assertThat(http.get("/v1/requests/req-video/media-link", "not-a-key").status()).isEqualTo(401);
    assertThat(http.get("/v1/requests/nope/media-link", KEY_A).errorCode()).isEqualTo("NOT_FOUND");
    assertThat(http.get("/v1/requests/req-b/media-link", KEY_A).status()).isEqualTo(404); // tenant-b's
    Http.Answer running = http.get("/v1/requests/req-running/media-link", KEY_A);
    assertThat(running.status()).isEqualTo(409);
    assertThat(running.errorCode()).isEqualTo("NO_VIDEO");
    assertThat(running.errorMessage()).contains("RUNNING");
    assertThat(http.get("/v1/requests/req-plain/media-link", KEY_A).errorCode()).isEqualTo("NO_VIDEO");

    Http.Answer ok = http.get("/v1/requests/req-video/media-link", KEY_A);
    assertThat(ok.status()).isEqualTo(200);
    assertThat(ok.raw().headers().firstValue("Cache-Control")).hasValue("no-store");
    String url = ok.json().get("url").asText();
    assertThat(url).matches("/media/req-video\\?tenant=tenant-a&expires=[0-9]+&sig=[A-Za-z0-9_-]{43}");
    Instant expires = Instant.parse(ok.json().get("expiresAt").asText());
    assertThat(expires).isBetween(Instant.now().plus(Duration.ofMinutes(59)), Instant.now().plus(Duration.ofMinutes(61)));
    assertThat(url).contains("expires=" + expires.getEpochSecond());
    assertUpstreamHidden(ok.raw().headers().map().toString() + ok.body());
  }

  @Test
  void aLinkPlaysTheWholeVideoInlineOrAsADownload() throws Exception {
    HttpResponse<byte[]> r = media(link("req-video"), Map.of());
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).isEqualTo(upstream.video);
    assertThat(r.headers().firstValue("Content-Type")).hasValue("video/mp4");
    assertThat(r.headers().firstValue("Content-Length")).hasValue(Integer.toString(upstream.video.length));
    assertThat(r.headers().firstValue("Accept-Ranges")).hasValue("bytes");
    assertThat(r.headers().firstValue("ETag")).isPresent();
    assertThat(r.headers().firstValue("Content-Disposition")).hasValue("inline; filename=\"req-video.mp4\"");
    assertThat(r.headers().firstValue("X-Content-Type-Options")).hasValue("nosniff");
    assertUpstreamHidden(r.headers().map().toString());

    HttpResponse<byte[]> download = media(link("req-video") + "&download=1", Map.of());
    assertThat(download.statusCode()).isEqualTo(200);
    assertThat(download.headers().firstValue("Content-Disposition")).hasValue("attachment; filename=\"req-video.mp4\"");
  }

  @Test
  void rangesGoToTheBackendAndTheirAnswersComeBack() throws Exception {
    String url = link("req-video");
    int n = upstream.video.length;
    HttpResponse<byte[]> part = media(url, Map.of("Range", "bytes=1000-1999"));
    assertThat(part.statusCode()).isEqualTo(206);
    assertThat(part.body()).isEqualTo(Arrays.copyOfRange(upstream.video, 1000, 2000));
    assertThat(part.headers().firstValue("Content-Range")).hasValue("bytes 1000-1999/" + n);
    assertThat(part.headers().firstValue("Content-Length")).hasValue("1000");
    assertThat(part.headers().firstValue("Content-Disposition")).hasValue("inline; filename=\"req-video.mp4\"");

    // the MP4 index at the end, as players ask for it
    HttpResponse<byte[]> tail = media(url, Map.of("Range", "bytes=-16"));
    assertThat(tail.statusCode()).isEqualTo(206);
    assertThat(tail.body()).isEqualTo(Arrays.copyOfRange(upstream.video, n - 16, n));
    HttpResponse<byte[]> rest = media(url, Map.of("Range", "bytes=" + (n - 100) + "-"));
    assertThat(rest.body()).isEqualTo(Arrays.copyOfRange(upstream.video, n - 100, n));

    // If-Range: the same version still gets its range, another version the whole file
    String etag = media(url, Map.of()).headers().firstValue("ETag").orElseThrow();
    HttpResponse<byte[]> same = media(url, Map.of("Range", "bytes=0-9", "If-Range", etag));
    assertThat(same.statusCode()).isEqualTo(206);
    assertThat(same.body()).isEqualTo(Arrays.copyOfRange(upstream.video, 0, 10));
    HttpResponse<byte[]> changed = media(url, Map.of("Range", "bytes=0-9", "If-Range", "\"another-version\""));
    assertThat(changed.statusCode()).isEqualTo(200);
    assertThat(changed.body()).hasSize(n);

    HttpResponse<byte[]> beyond = media(url, Map.of("Range", "bytes=" + (n + 10) + "-"));
    assertThat(beyond.statusCode()).isEqualTo(416);
    assertThat(beyond.headers().firstValue("Content-Range")).hasValue("bytes */" + n);
    assertThat(Json.read(new String(beyond.body(), StandardCharsets.UTF_8), JsonNode.class).at("/error/code").asText())
        .isEqualTo("RANGE_NOT_SATISFIABLE");
  }

  @Test
  void onlyAnIntactUnexpiredLinkOfTheRightTenantAndRequestOpensAVideo() throws Exception {
    String good = link("req-video");
    assertThat(media(good, Map.of()).statusCode()).isEqualTo(200);
    String sig = good.substring(good.indexOf("&sig=") + 5);
    String flipped = (sig.charAt(0) == 'A' ? "B" : "A") + sig.substring(1);
    assertForbidden(good.replace("&sig=" + sig, "&sig=" + flipped), "not valid");
    assertForbidden(good.replace("&sig=" + sig, ""), "not valid");
    assertForbidden(good.replace("tenant=tenant-a", "tenant=tenant-b"), "not valid"); // tenant-b has a req-b, not this one
    assertForbidden(good.replace("/media/req-video", "/media/req-broken"), "not valid"); // another request of the tenant
    long expires = Long.parseLong(good.replaceAll(".*expires=([0-9]+).*", "$1"));
    assertForbidden(good.replace("expires=" + expires, "expires=" + (expires + 3600)), "not valid"); // a longer life
    assertForbidden(good.replace("expires=" + expires, "expires=soon"), "not valid");
    assertForbidden("/media/req-video", "not valid");

    // made by this key, but an hour and a minute ago: expired
    String old = links.link("tenant-a", "req-video", Instant.now().minus(Duration.ofMinutes(61))).url();
    assertForbidden(old, "expired");
    // made with another key (another instance's random key)
    MediaLinks other = new MediaLinks(new MediaLinks.Settings(null, Duration.ofHours(1), Duration.ofSeconds(1), 4, 0, List.of("127.0.0.1")), view);
    assertForbidden(other.link("tenant-a", "req-video", Instant.now()).url(), "not valid");

    // tenant-b's own link opens tenant-b's request; a made-up path is still no way into tenant-a's
    assertThat(media(links.link("tenant-b", "req-b", Instant.now()).url(), Map.of()).statusCode()).isEqualTo(200);
    Http.Answer unknown = get(links.link("tenant-b", "req-video", Instant.now()).url());
    assertThat(unknown.status()).isEqualTo(404);
    assertThat(get(links.link("tenant-a", "req-plain", Instant.now()).url()).errorCode()).isEqualTo("NO_VIDEO");
  }

  @Test
  void aBackendThatFailsIs502AndNothingNamesItsUrl() {
    // req-silent: the silent backend is given up after upstream-timeout (1 s), so it is a 502, not request-timeout's 503
    for (String id : List.of("req-broken", "req-gone", "req-loop", "req-to-file", "req-closed", "req-ftp", "req-local", "req-nonsense",
        "req-silent", "req-other-host")) {
      Http.Answer a = get(link(id));
      assertThat(a.status()).as(id + ": " + a.body()).isEqualTo(502);
      assertThat(a.errorCode()).isEqualTo("BAD_GATEWAY");
      assertThat(a.errorMessage()).contains(id);
      assertUpstreamHidden(a.raw().headers().map().toString() + a.body());
    }
    assertThat(logs.list).extracting(ILoggingEvent::getFormattedMessage)
        .anySatisfy(m -> assertThat(m).contains("req-other-host").contains("not in reelay.status.media-links.hosts"));
    assertThat(logs.list).extracting(ILoggingEvent::getFormattedMessage)
        .anySatisfy(m -> assertThat(m).contains("req-broken").contains("500"))
        .allSatisfy(MediaProxyTest::assertUpstreamHidden);
    assertThat(logs.list).filteredOn(e -> e.getThrowableProxy() != null)
        .allSatisfy(e -> assertUpstreamHidden(e.getThrowableProxy().getMessage()));
  }

  @Test
  void onlyTheListedHostsAreFetchedFrom() {
    MediaLinks.Settings s = new MediaLinks.Settings(null, Duration.ofHours(1), Duration.ofSeconds(1), 4, 0,
        MediaLinks.Settings.hosts(" *.nemovideo.ai, sim ,::1"));
    assertThat(s.allows("static1.nemovideo.ai")).isTrue();
    assertThat(s.allows("STATIC1.NemoVideo.AI")).isTrue();
    assertThat(s.allows("nemovideo.ai")).as("*.domain is the names below it").isFalse();
    assertThat(s.allows("evilnemovideo.ai")).isFalse();
    assertThat(s.allows("nemovideo.ai.evil.example")).isFalse();
    assertThat(s.allows("sim")).isTrue();
    assertThat(s.allows("[::1]")).isTrue();
    assertThat(s.allows("169.254.169.254")).isFalse();
    assertThat(StatusSettings.from(ConfigFactory.load().getConfig("reelay.status")).mediaLinks().hosts())
        .as("the default").containsExactly("*.nemovideo.ai", "127.0.0.1", "localhost", "::1");
  }

  @Test
  void redirectsAreFollowedAndWhatIsNotVideoIsServedAsVideo() throws Exception {
    HttpResponse<byte[]> moved = media(link("req-moved"), Map.of("Range", "bytes=0-99"));
    assertThat(moved.statusCode()).isEqualTo(206);
    assertThat(moved.body()).isEqualTo(Arrays.copyOfRange(upstream.video, 0, 100));
    assertUpstreamHidden(moved.headers().map().toString());

    // a page from upstream is never a page of this origin
    HttpResponse<byte[]> page = media(link("req-page"), Map.of());
    assertThat(page.statusCode()).isEqualTo(200);
    assertThat(page.headers().firstValue("Content-Type")).hasValue("video/mp4");
    assertThat(page.headers().firstValue("Content-Security-Policy")).hasValue("default-src 'none'; sandbox");
    assertThat(page.headers().firstValue("X-Content-Type-Options")).hasValue("nosniff");
    HttpResponse<byte[]> octets = media(link("req-octets"), Map.of());
    assertThat(octets.headers().firstValue("Content-Type")).hasValue("video/mp4");
    assertThat(octets.body()).isEqualTo(upstream.video);
  }

  @Test
  void theVideoIsStreamedAsItArrivesNeverBufferedWhole() throws Exception {
    HttpResponse<InputStream> r = Http.CLIENT.send(http.builder(link("req-stall"), null).GET().build(),
        HttpResponse.BodyHandlers.ofInputStream());
    assertThat(r.statusCode()).isEqualTo(200);
    int half = upstream.video.length / 2;
    try (InputStream in = r.body()) {
      // the first half arrives while the backend still holds the second
      byte[] first = in.readNBytes(half);
      assertThat(first).isEqualTo(Arrays.copyOfRange(upstream.video, 0, half));
      assertThat(upstream.release).isNotDone();
      upstream.release.complete(ByteString.emptyByteString());
      assertThat(in.readAllBytes()).isEqualTo(Arrays.copyOfRange(upstream.video, half, upstream.video.length));
    }
  }

  @Test
  void aBackendThatFallsSilentMidwayCutsTheAnswerAndNothingNamesIt() throws Exception {
    HttpResponse<InputStream> r = Http.CLIENT.send(http.builder(link("req-hang"), null).GET().build(),
        HttpResponse.BodyHandlers.ofInputStream());
    assertThat(r.statusCode()).isEqualTo(200);
    int got = 0;
    try (InputStream in = r.body()) {
      byte[] buffer = new byte[8192];
      for (int n; (n = in.read(buffer)) > 0; ) {
        got += n;
      }
    } catch (java.io.IOException cut) {
      // the answer is aborted after upstream-timeout (1 s) of silence: what a client should see
    }
    assertThat(got).isLessThan(upstream.video.length);
    org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(logs.list)
        .extracting(ILoggingEvent::getFormattedMessage).anySatisfy(m -> assertThat(m).contains("req-hang").contains("broke off")));
    assertThat(logs.list).extracting(ILoggingEvent::getFormattedMessage).allSatisfy(MediaProxyTest::assertUpstreamHidden);
  }

  @Test
  void mediaAnswersGetOnly() {
    Http.Answer post = Http.send(http.builder(link("req-video"), null).POST(HttpRequest.BodyPublishers.noBody()).build());
    assertThat(post.status()).isEqualTo(405);
    assertThat(post.raw().headers().firstValue("Allow")).hasValue("GET");
  }

  // ------------------------------------------------------------------ helpers

  private static String link(String id) {
    return links.link("tenant-a", id, Instant.now()).url();
  }

  private static HttpResponse<byte[]> media(String path, Map<String, String> headers) throws Exception {
    HttpRequest.Builder b = http.builder(path, null).GET();
    headers.forEach(b::header);
    return Http.CLIENT.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
  }

  private static Http.Answer get(String path) {
    return http.get(path, null);
  }

  private static void assertForbidden(String path, String why) {
    Http.Answer a = get(path);
    assertThat(a.status()).as(path).isEqualTo(403);
    assertThat(a.errorCode()).isEqualTo("FORBIDDEN");
    assertThat(a.errorMessage()).as(path).contains(why);
  }

  private static void assertUpstreamHidden(String text) {
    assertThat(text).doesNotContain(Upstream.TOKEN).doesNotContain(":" + upstream.port()).doesNotContain(":" + closedPort)
        .doesNotContain("/files/").doesNotContain("passwd");
  }
}
