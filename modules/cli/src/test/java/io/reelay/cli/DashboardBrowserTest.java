package io.reelay.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.reelay.kafka.TestKafka;
import io.reelay.protocol.Json;
import io.reelay.protocol.Topics;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.extension.TestWatcher;
import org.openqa.selenium.By;
import org.openqa.selenium.StaleElementReferenceException;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.support.ui.Select;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The dashboard as a user drives it, in headless Chromium, against the real stack (a broker, the
 * simulator, a worker, the status service): a wrong key is refused with a message, the right one
 * signs in, a prompt runs to COMPLETED with its progress at 100, an export of the session plays
 * as a video served by the status service, a request that never ends is cancelled, and the
 * session's credits show after a refresh. It relies only on the DOM contract of the dashboard
 * (ids, classes and data attributes), and leaves screenshots in {@code target/dashboard/}.
 */
class DashboardBrowserTest {

  private static final String KEY = "dashboard-browser-key";
  private static final String TENANT = "browser";
  private static final Set<String> TERMINAL = Set.of("COMPLETED", "FAILED", "CANCELLED", "REJECTED");
  /** This machine is slow: a generation at time-scale 0.01 takes seconds, the waits allow minutes. */
  private static final Duration GENERATION = Duration.ofSeconds(120);
  private static final Duration UI = Duration.ofSeconds(30);
  private static final int WIDTH = 1280;
  private static final int HEIGHT = 900;

  private static final Path ARTIFACTS = Path.of(System.getProperty("basedir", ".")).resolve("target").resolve("dashboard");

  private static final HttpClient HTTP = HttpClient.newHttpClient();

  private static LocalStack stack;
  private static HeadlessChromium chromium;
  private static WebDriver driver;
  private static String missing;

  /** A failing test leaves a screenshot, the page's HTML and the console, and prints the page's text. */
  @RegisterExtension
  static final TestWatcher evidence = new TestWatcher() {
    @Override
    public void testFailed(ExtensionContext context, Throwable cause) {
      if (chromium != null) {
        chromium.saveFailureEvidence("failure-" + context.getRequiredTestMethod().getName());
      }
    }
  };

  @BeforeAll
  @Timeout(value = 180, unit = TimeUnit.SECONDS)
  static void start() throws Exception {
    Optional<Path> browser = HeadlessChromium.onPath("chromium", "chromium-browser");
    Optional<Path> chromedriver = HeadlessChromium.onPath("chromedriver");
    if (browser.isEmpty() || chromedriver.isEmpty()) {
      missing = "skipped: "
          + (browser.isEmpty() ? "no chromium (nor chromium-browser) " : "")
          + (browser.isEmpty() && chromedriver.isEmpty() ? "and " : "")
          + (chromedriver.isEmpty() ? "no chromedriver " : "")
          + "on the PATH (" + System.getenv("PATH") + "); the dashboard's browser test needs both: "
          + HeadlessChromium.INSTALL;
      System.out.println("dashboard test " + missing);
      return;
    }

    Config base = ConfigFactory.parseMap(Map.of(
            "reelay.worker.group-id", TestKafka.uniqueName("workers"),
            "reelay.status.api-keys", KEY + "=" + TENANT,
            "reelay.webhooks.group-id", TestKafka.uniqueName("webhooks"),
            // enough for a generation with credits left over, so the session panel shows a balance
            "nemo-sim.credits-per-token", 500))
        .withFallback(ConfigFactory.load());
    stack = LocalStack.start(base, new LocalStack.Options(
        null, 0, TestKafka.bootstrapServers(), 0, 0, 1, 0.01, null, Topics.withPrefix(TestKafka.uniqueName("dashboard")), 3));

    HeadlessChromium.clean(ARTIFACTS);
    chromium = HeadlessChromium.start(browser.get(), chromedriver.get(), ARTIFACTS, WIDTH, HEIGHT);
    driver = chromium.driver();
    chromium.viewport(WIDTH, HEIGHT);
    System.out.println("dashboard test: " + chromium.version() + " (" + browser.get() + ", " + chromedriver.get()
        + ") against " + stack.statusUrl() + ", simulator " + stack.simUrl());
  }

  /** The one reason to skip: no browser or driver to run (the skip is per test, so reports show why). */
  @BeforeEach
  void browserInstalled() {
    assumeTrue(missing == null, missing);
  }

  @AfterAll
  static void stop() {
    try {
      if (chromium != null) {
        chromium.close();
      }
    } finally {
      if (stack != null) {
        stack.close();
      }
    }
  }

  @Test
  @Timeout(value = 240, unit = TimeUnit.SECONDS)
  void aUserSignsInGeneratesWatchesTheExportCancelsAHangingRequestAndSeesCredits() throws Exception {
    String session = "browser-" + UUID.randomUUID().toString().substring(0, 8);
    driver.get(stack.statusUrl() + "/");

    // a wrong key: a clear message, and the key form stays (never a blank page)
    signIn("not-" + KEY);
    String keyError = waitFor("#key-error to say why the key was refused", UI,
        d -> nonBlank(text("#key-error")));
    assertThat(keyError).as("#key-error: a message a user can read, not a bare code").hasSizeGreaterThanOrEqualTo(10).contains(" ");
    assertThat(displayed("#key-error")).as("#key-error is visible").isTrue();
    assertThat(displayed("#api-key")).as("the key form stays visible after a refused key").isTrue();
    assertThat(displayed("#signed-in")).as("#signed-in after a refused key").isFalse();
    assertThat(bodyText().replace(keyError, "").trim()).as("the page around the key error").isNotBlank();
    System.out.println("dashboard test: a wrong key says: " + keyError);

    // the right key
    signIn(KEY);
    waitFor("#signed-in to show after the right key", UI, d -> displayed("#signed-in"));
    assertThat(text("#key-error")).as("#key-error once signed in").isBlank();
    chromium.screenshot("signed-in.png");

    // a prompt runs to COMPLETED, its progress reaching 100
    String generation = submit("generate", session, "a fox running through a snowy forest at dusk");
    Set<Object> progressSeen = new LinkedHashSet<>();
    String state = waitFor("request " + generation + " to end", GENERATION, d -> {
      Map<String, Object> r = request(generation);
      if (r == null) {
        return null;
      }
      progressSeen.add(r.get("progress"));
      return TERMINAL.contains(String.valueOf(r.get("state"))) ? String.valueOf(r.get("state")) : null;
    });
    assertThat(state).as("data-state of the generation (#detail-error: %s)", text("#detail-error")).isEqualTo("COMPLETED");
    waitFor("progress.progress of " + generation + " to be 100 (max 100)", UI, d -> {
      Map<String, Object> r = request(generation);
      return number(r.get("progress")) == 100 && number(r.get("max")) == 100 ? true : null;
    });
    System.out.println("dashboard test: progress of the generation as the page showed it: " + progressSeen);
    assertThat(selected()).as("#detail after submitting the generation").isEqualTo(generation);
    int events = waitFor("#history to hold at least 3 events of the generation", UI, d -> {
      int n = d.findElements(By.cssSelector("#history li.event")).size();
      return n >= 3 ? n : null;
    });
    System.out.println("dashboard test: #history of the generation holds " + events + " events");

    // an export of the session plays as a video, served by the status service
    String export = submit("export", session, "export");
    String exported = waitFor("request " + export + " to end", GENERATION, d -> {
      Map<String, Object> r = request(export);
      return r != null && TERMINAL.contains(String.valueOf(r.get("state"))) ? String.valueOf(r.get("state")) : null;
    });
    assertThat(exported).as("data-state of the export (#detail-error: %s)", text("#detail-error")).isEqualTo("COMPLETED");
    Map<String, Object> video = waitFor("#video to load the MP4's metadata (finite duration > 0, readyState >= 1)", GENERATION, d -> {
      Map<String, Object> v = video();
      boolean loaded = Boolean.TRUE.equals(v.get("present")) && Boolean.TRUE.equals(v.get("durationFinite"))
          && number(v.get("duration")) > 0 && number(v.get("readyState")) >= 1;
      return loaded || v.get("error") != null ? v : null;
    });
    assertThat(video.get("error"))
        .as("#video's MediaError code (1 aborted, 2 network, 3 decode, 4 src not supported); %s", video)
        .isNull();
    System.out.println("dashboard test: #video " + video);
    String statusOrigin = origin(stack.statusUrl());
    assertThat(String.valueOf(video.get("srcOrigin"))).as("origin of #video's src %s", video.get("src")).isEqualTo(statusOrigin);
    assertThat(String.valueOf(video.get("src"))).as("#video's src").doesNotContain(stack.simUrl())
        .doesNotContain(":" + URI.create(stack.simUrl()).getPort() + "/");
    String downloadOrigin = (String) chromium.js(
        "const a = document.getElementById('download'); return a && a.href ? new URL(a.href).origin : null;");
    assertThat(downloadOrigin).as("origin of #download's href").isEqualTo(statusOrigin);
    // a frame on screen for the pictures, if the browser gets that far quickly (not part of the check)
    chromium.js("const v = document.getElementById('video'); if (v.readyState >= 1 && v.currentTime === 0) v.currentTime = Math.min(1, v.duration / 2);");
    waitQuietly(Duration.ofSeconds(10), d -> number(video().get("readyState")) >= 2 ? true : null);
    chromium.screenshot("completed-with-video.png");

    // the session's credits, after a refresh of the session
    waitFor("#session-panel to show session " + session, UI,
        d -> session.equals(chromium.js("return document.getElementById('session-panel').dataset.sessionKey;")) ? true : null);
    click("#refresh-session");
    String credits = waitFor("#credits to show a number after #refresh-session", GENERATION,
        d -> text("#credits").matches("(?s).*\\d.*") ? text("#credits") : null);
    System.out.println("dashboard test: #credits says: " + credits);
    // the backend's balance: 500 for the token, 100 spent by the generation, the export free
    assertThat(credits).as("#credits").contains("available 400").contains("total 400");
    // the picture for docs/dashboard.png: the finished export with its video, and the session's credits
    chromium.fullPageScreenshot("dashboard.png", WIDTH, HEIGHT, 2400);

    // a request that never ends, cancelled from the page (in a session of its own: the generation
    // and the export spent the first one's credits)
    Map<String, Long> sim = simCounters("hangingStreams", "creditsSpent");
    String hanging = submit("generate", session + "-hang", "a slow sunset [sim:hang]");
    // the turn plays out (its credits spent), then the simulator holds the stream open for good
    waitFor("the simulator to hold the stream of " + hanging + " open after its turn", GENERATION, d -> {
      Map<String, Object> r = request(hanging);
      assertThat(r == null ? null : r.get("state")).as("data-state of the hanging request").isNotIn(TERMINAL);
      Map<String, Long> now = simCounters("hangingStreams", "creditsSpent");
      return now.get("hangingStreams") > sim.get("hangingStreams") && now.get("creditsSpent") > sim.get("creditsSpent") ? true : null;
    });
    waitFor("request " + hanging + " to be RUNNING with an enabled button.cancel", UI, d -> {
      Map<String, Object> r = request(hanging);
      assertThat(r == null ? null : r.get("state")).as("data-state of the hanging request").isNotIn(TERMINAL);
      return r != null && "RUNNING".equals(r.get("state")) && Boolean.TRUE.equals(r.get("cancel")) ? true : null;
    });
    waitFor("button.cancel of " + hanging + " to take a click", UI, d -> {
      d.findElement(requestBy(hanging)).findElement(By.cssSelector("button.cancel")).click();
      return true;
    });
    String cancelled = waitFor("request " + hanging + " to end after its cancel", GENERATION, d -> {
      Map<String, Object> r = request(hanging);
      return r != null && TERMINAL.contains(String.valueOf(r.get("state"))) ? String.valueOf(r.get("state")) : null;
    });
    assertThat(cancelled).as("data-state of the cancelled request").isEqualTo("CANCELLED");
    chromium.screenshot("cancelled.png");

    // the same page on a phone
    chromium.viewport(390, 844);
    waitFor("the page to lay out at phone width", UI, d -> number(chromium.js("return window.innerWidth;")) <= 390 ? true : null);
    Object overflow = chromium.js("return document.documentElement.scrollWidth - document.documentElement.clientWidth;");
    System.out.println("dashboard test: at 390x844 the page is " + overflow + " px wider than the screen");
    chromium.screenshot("phone.png");
    chromium.viewport(WIDTH, HEIGHT);

    List<String> console = chromium.saveConsole();
    System.out.println("dashboard test: " + console.size() + " console entries in " + ARTIFACTS.resolve("console.log")
        + "; screenshots in " + ARTIFACTS);
  }

  // ------------------------------------------------------------------ the page, through the DOM contract

  private static void signIn(String key) {
    WebElement input = waitFor("#api-key to be visible", UI, d -> displayed("#api-key") ? d.findElement(By.id("api-key")) : null);
    input.clear();
    input.sendKeys(key);
    click("#api-key-save");
  }

  /** Submits through #submit-form; returns the requestId the page selected for it. */
  private static String submit(String action, String session, String prompt) {
    String before = selected();
    WebElement sessionInput = driver.findElement(By.id("session"));
    sessionInput.clear();
    sessionInput.sendKeys(session);
    new Select(driver.findElement(By.id("action"))).selectByValue(action);
    WebElement text = driver.findElement(By.id("prompt"));
    text.clear();
    text.sendKeys(prompt);
    click("#submit-button");
    String id = waitFor("the " + action + " request to be listed and selected (or #submit-error)", UI, d -> {
      String error = text("#submit-error");
      assertThat(error).as("#submit-error after submitting %s", action).isBlank();
      String now = selected();
      return nonBlank(now) != null && !now.equals(before) && !d.findElements(requestBy(now)).isEmpty() ? now : null;
    });
    System.out.println("dashboard test: " + action + " in session " + session + " is request " + id);
    return id;
  }

  private static By requestBy(String requestId) {
    return By.cssSelector("#requests .request[data-request-id=\"" + requestId + "\"]");
  }

  /** One request of #requests, read at once: state, progress value and max, whether cancel is enabled. */
  @SuppressWarnings("unchecked")
  private static Map<String, Object> request(String requestId) {
    return (Map<String, Object>) chromium.js("""
        const el = [...document.querySelectorAll('#requests .request')].find(e => e.dataset.requestId === arguments[0]);
        if (!el) return null;
        const p = el.querySelector('progress.progress');
        const c = el.querySelector('button.cancel');
        return {state: el.dataset.state, progress: p ? p.value : null, max: p ? p.max : null,
                cancel: c ? !c.disabled : false};
        """, requestId);
  }

  /** What #video reports: src and its origin, duration, readyState, error, and whether H.264 MP4 is playable at all. */
  @SuppressWarnings("unchecked")
  private static Map<String, Object> video() {
    return (Map<String, Object>) chromium.js("""
        const v = document.getElementById('video');
        if (!v) return {present: false};
        const src = v.currentSrc || v.src || '';
        let srcOrigin = null;
        try { srcOrigin = src ? new URL(src, location.href).origin : null; } catch (e) { srcOrigin = 'unparseable'; }
        return {present: true, src: src, srcOrigin: srcOrigin,
                durationFinite: Number.isFinite(v.duration), duration: Number.isFinite(v.duration) ? v.duration : String(v.duration),
                readyState: v.readyState, networkState: v.networkState, preload: v.preload,
                error: v.error ? v.error.code : null, errorMessage: v.error ? v.error.message : null,
                canPlayH264: v.canPlayType('video/mp4; codecs="avc1.42E01E"'),
                shown: v.getClientRects().length > 0};
        """);
  }

  private static String selected() {
    Object id = chromium.js("const d = document.getElementById('detail'); return d ? (d.dataset.requestId || '') : '';");
    return id == null ? "" : id.toString();
  }

  private static String text(String css) {
    List<WebElement> found = driver.findElements(By.cssSelector(css));
    return found.isEmpty() ? "" : Optional.ofNullable(found.get(0).getText()).orElse("").trim();
  }

  private static boolean displayed(String css) {
    List<WebElement> found = driver.findElements(By.cssSelector(css));
    return !found.isEmpty() && found.get(0).isDisplayed();
  }

  private static void click(String css) {
    waitFor(css + " to take a click", UI, d -> {
      d.findElement(By.cssSelector(css)).click();
      return true;
    });
  }

  private static String bodyText() {
    return String.valueOf(chromium.js("return document.body ? document.body.innerText : '';"));
  }

  // ------------------------------------------------------------------ waiting

  /**
   * Polls {@code condition} until it answers non-null (a re-rendered element is looked up again);
   * a timeout names what was awaited and what the page showed last.
   */
  private static <T> T waitFor(String what, Duration deadline, Function<WebDriver, T> condition) {
    WebDriverWait wait = new WebDriverWait(driver, deadline, Duration.ofMillis(250));
    wait.ignoring(StaleElementReferenceException.class);
    wait.withMessage(() -> "waited " + deadline.toSeconds() + " s for " + what + snapshot());
    return wait.until(condition::apply);
  }

  /** Like {@link #waitFor} but giving up silently: for pictures, never for checks. */
  private static void waitQuietly(Duration deadline, Function<WebDriver, Object> condition) {
    try {
      new WebDriverWait(driver, deadline, Duration.ofMillis(250)).until(condition::apply);
    } catch (org.openqa.selenium.TimeoutException e) {
      // the screenshot is taken anyway
    }
  }

  /** The page's requests as the test sees them, for timeout messages. */
  private static String snapshot() {
    try {
      Object rows = chromium.js("""
          return [...document.querySelectorAll('#requests .request')].slice(0, 5)
            .map(e => e.dataset.requestId + '=' + e.dataset.state
                 + '@' + ((e.querySelector('progress.progress') || {}).value)).join(', ');
          """);
      return "; last seen: #requests [" + rows + "], #detail " + selected();
    } catch (RuntimeException e) {
      return "; page unreadable: " + e.getMessage();
    }
  }

  /** Counters of the simulator's {@code GET /_sim/stats}: what the backend did, seen from outside the page. */
  private static Map<String, Long> simCounters(String... names) {
    try {
      HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(stack.simUrl() + "/_sim/stats")).build(),
          HttpResponse.BodyHandlers.ofString());
      JsonNode stats = Json.read(r.body(), JsonNode.class);
      Map<String, Long> out = new HashMap<>();
      for (String name : names) {
        out.put(name, stats.path(name).asLong());
      }
      return out;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  private static String nonBlank(String s) {
    return s == null || s.isBlank() ? null : s;
  }

  private static double number(Object o) {
    return o instanceof Number n ? n.doubleValue() : Double.NaN;
  }

  private static String origin(String url) {
    URI u = URI.create(url);
    return u.getScheme() + "://" + u.getHost() + (u.getPort() == -1 ? "" : ":" + u.getPort());
  }
}
