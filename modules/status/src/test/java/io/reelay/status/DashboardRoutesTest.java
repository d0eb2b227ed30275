package io.reelay.status;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.Socket;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The dashboard's files: served without a key with their security headers, nothing else of the
 * class path reachable through {@code /ui/}, and a page that works under its own
 * Content-Security-Policy (no inline script or style, nothing from another host) and carries the
 * ids the browser test relies on.
 */
class DashboardRoutesTest {

  static final ActorTestKit testKit = ActorTestKit.create();
  static final List<String> FILES = List.of("index.html", "app.js", "api.js", "detail.js", "dom.js", "sse.js", "submitted.js", "app.css");
  static ServerBinding binding;
  static Http http;
  static int port;

  @BeforeAll
  static void bind() throws Exception {
    StatusRoutes routes = new StatusRoutes(StatusSettings.defaults().withPort(0), Map.of("key", "tenant"), new TestStore().queries(),
        new RecordingPublisher(), () -> true, new PrometheusMeterRegistry(PrometheusConfig.DEFAULT));
    binding = org.apache.pekko.http.javadsl.Http.get(testKit.system()).newServerAt("127.0.0.1", 0).bind(routes.route())
        .toCompletableFuture().get(10, TimeUnit.SECONDS);
    port = binding.localAddress().getPort();
    http = new Http("http://127.0.0.1:" + port);
  }

  @AfterAll
  static void unbind() {
    binding.unbind();
    testKit.shutdownTestKit();
  }

  @Test
  void thePageAndItsFilesAreServedWithoutAKeyAndWithTheirSecurityHeaders() {
    Http.Answer page = http.get("/", null);
    assertThat(page.status()).isEqualTo(200);
    assertThat(page.raw().headers().firstValue("Content-Type")).hasValue("text/html; charset=UTF-8");
    assertThat(page.body()).isEqualTo(resource("index.html"));
    assertSecurityHeaders(page);
    for (String file : FILES) {
      Http.Answer a = http.get("/ui/" + file, null);
      assertThat(a.status()).as(file).isEqualTo(200);
      assertThat(a.body()).as(file).isEqualTo(resource(file));
      assertSecurityHeaders(a);
    }
    assertThat(http.get("/ui/app.js", null).raw().headers().firstValue("Content-Type")).hasValue("text/javascript; charset=UTF-8");
    assertThat(http.get("/ui/app.css", null).raw().headers().firstValue("Content-Type")).hasValue("text/css; charset=UTF-8");
    // a key changes nothing, and the page is not an API call: a wrong one is no 401
    assertThat(http.get("/", "not-a-key").status()).isEqualTo(200);
  }

  @Test
  void unknownFilesAndOtherMethodsAreRefused() {
    for (String path : List.of("/ui/nope.js", "/ui/", "/ui", "/ui/index", "/ui/app.js/x", "/ui/.hidden.js", "/index.html", "/ui/README.md")) {
      Http.Answer a = http.get(path, null);
      assertThat(a.status()).as(path).isEqualTo(404);
      assertThat(a.errorCode()).as(path).isEqualTo("NOT_FOUND");
    }
    Http.Answer post = Http.send(http.builder("/", null).POST(HttpRequest.BodyPublishers.noBody()).build());
    assertThat(post.status()).isEqualTo(405);
    assertThat(Http.send(http.builder("/ui/app.js", null).DELETE().build()).status()).isEqualTo(405);
  }

  @Test
  void nothingOutsideTheDirectoryIsReachable() {
    // sent byte for byte (an HTTP client would resolve the dots itself); each target is on the class path
    // (ui/../openapi.yaml would be the served document's file, ../../../../reference.conf the config)
    List<String> paths = List.of(
        "/ui/..%2fopenapi.yaml", "/ui/..%2Fopenapi.yaml", "/ui/%2e%2e%2fopenapi.yaml",
        "/ui/..%5copenapi.yaml", "/ui/..\\openapi.yaml", "/ui/%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2freference.conf",
        "/ui/../../../../reference.conf", "/ui/..%252fopenapi.yaml", "/ui/%c0%ae%c0%ae%2fopenapi.yaml", "/ui/ui%2f..%2f..%2fopenapi.yaml",
        "/ui//io/reelay/status/openapi.yaml", "/ui/%2fio%2freelay%2fstatus%2fopenapi.yaml", "/ui/app.js%00.css",
        "/ui/ApiKeys.class", "/ui/..;/openapi.yaml", "/ui/...", "/ui/%2e%2e%2e");
    for (String path : paths) {
      String answer = raw(path);
      int status = Integer.parseInt(answer.substring(9, 12));
      assertThat(status).as(path + " answered " + answer.substring(0, Math.min(answer.length(), 300))).isIn(400, 404);
      assertThat(answer).as(path).doesNotContain("openapi: 3.1.0").doesNotContain("reelay.status {");
      assertThat(head(answer)).as(path).doesNotContain("Content-Security-Policy");
    }
    // dot segments (also as %2E) are resolved before routing (RFC 3986 5.2.4, 6.2.2.2): /ui/../openapi.yaml is
    // /openapi.yaml, the public document, answered as itself and not as a dashboard file
    for (String path : List.of("/ui/../openapi.yaml", "/ui/%2E%2E/openapi.yaml", "/ui/%2e%2e/openapi.yaml", "/ui/.%2e/openapi.yaml")) {
      String answer = raw(path);
      assertThat(answer).as(path).startsWith("HTTP/1.1 200").contains("openapi: 3.1.0");
      assertThat(head(answer)).as(path).contains("Content-Type: application/yaml").doesNotContain("Content-Security-Policy");
    }
  }

  @Test
  void thePageRunsUnderItsOwnPolicyAndLoadsNothingFromElsewhere() {
    String page = resource("index.html");
    assertThat(page).contains("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    // CSP script-src/style-src 'self': no inline script, style or handler would run
    assertThat(Pattern.compile("<script(?![^>]*\\bsrc=)[^>]*>", Pattern.CASE_INSENSITIVE).matcher(page).find()).isFalse();
    assertThat(page).doesNotContainPattern("(?i)<style|\\sstyle=|\\son[a-z]+=|javascript:");
    for (String file : FILES) {
      String text = resource(file);
      // no other host: every URL is a path of this origin (the one data: URL is the empty favicon)
      assertThat(text).as(file).doesNotContainPattern("(?i)https?://|(src|href)=\"//|url\\(|@import");
      assertThat(text).as(file).doesNotContain("innerHTML").doesNotContain("eval(").doesNotContain("new Function");
    }
    // every file the page and its modules name is one the server serves
    Matcher refs = Pattern.compile("(?:src|href)=\"(/ui/[^\"]+)\"|from '\\./([^']+)'").matcher(String.join("\n", FILES.stream().map(
        DashboardRoutesTest::resource).toList()));
    List<String> named = new ArrayList<>();
    while (refs.find()) {
      named.add(refs.group(1) != null ? refs.group(1) : "/ui/" + refs.group(2));
    }
    assertThat(named).contains("/ui/app.js", "/ui/app.css", "/ui/sse.js", "/ui/detail.js");
    named.forEach(path -> assertThat(http.get(path, null).status()).as(path).isEqualTo(200));
  }

  @Test
  void thePageHasTheIdsTheBrowserTestRelyOn() {
    String page = resource("index.html");
    for (String id : List.of("api-key", "api-key-save", "key-error", "signed-in", "sign-out", "submit-form", "prompt", "session", "action",
        "submit-button", "submit-error", "requests", "detail", "history", "video", "download", "detail-error", "session-panel", "credits",
        "timeline", "refresh-session")) {
      assertThat(page).as(id).contains("id=\"" + id + "\"");
    }
    assertThat(page).contains("<input id=\"api-key\" type=\"password\"").contains("<video id=\"video\" controls")
        .contains("<form id=\"submit-form\"").contains("<textarea id=\"prompt\"").contains("<select id=\"action\">")
        .contains("<ol id=\"history\">").contains("data-request-id=\"\"").contains("data-session-key=\"\"");
    for (String action : List.of("generate", "edit", "export", "credits", "state")) {
      assertThat(page).contains("<option value=\"" + action + "\"");
    }
    String app = resource("app.js") + resource("detail.js") + resource("api.js");
    assertThat(app).contains("'reelay.apiKey'").contains("'request'").contains("dataset.requestId").contains("dataset.state")
        .contains("'progress'").contains("'cancel'").contains("'event'").contains("dataset.seq").contains("dataset.sessionKey")
        .contains("'state badge'").contains("'phase'").contains("'text'").contains("progress.max = 100");
  }

  private static void assertSecurityHeaders(Http.Answer a) {
    var h = a.raw().headers();
    assertThat(h.firstValue("Content-Security-Policy")).hasValue("default-src 'self'; img-src 'self' data:; media-src 'self'; "
        + "connect-src 'self'; style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
    assertThat(h.firstValue("X-Content-Type-Options")).hasValue("nosniff");
    assertThat(h.firstValue("Referrer-Policy")).hasValue("no-referrer");
    assertThat(h.firstValue("Cache-Control")).hasValue("no-cache");
  }

  static String resource(String file) {
    try (InputStream in = DashboardRoutesTest.class.getClassLoader().getResourceAsStream(DashboardRoutes.DIR + file)) {
      assertThat(in).as(file).isNotNull();
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static String head(String rawAnswer) {
    int end = rawAnswer.indexOf("\r\n\r\n");
    return end < 0 ? rawAnswer : rawAnswer.substring(0, end);
  }

  /** The raw answer to {@code GET path}, sent exactly as written. */
  private static String raw(String path) {
    try (Socket s = new Socket("127.0.0.1", port)) {
      s.setSoTimeout(5000);
      OutputStream out = s.getOutputStream();
      out.write(("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
      return new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
