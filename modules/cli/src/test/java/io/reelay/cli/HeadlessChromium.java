package io.reelay.cli;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.stream.Stream;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.logging.LogEntry;
import org.openqa.selenium.logging.LogType;
import org.openqa.selenium.logging.LoggingPreferences;

/**
 * Debian's headless {@code chromium} driven through its own {@code chromedriver}, both taken from
 * the PATH (nothing is downloaded: Selenium Manager has nothing to find), plus the evidence a
 * browser test leaves behind: screenshots, the console log and the page's text.
 */
final class HeadlessChromium implements AutoCloseable {

  /** What to install when the browser or the driver is not on the PATH. */
  static final String INSTALL = "apt-get install chromium chromium-driver";

  /** Selenium looks for a CDP binding of this browser's version: none is on the class path, none is used. */
  private static final Logger CDP_VERSION_FINDER = Logger.getLogger("org.openqa.selenium.devtools.CdpVersionFinder");

  static {
    CDP_VERSION_FINDER.setLevel(Level.SEVERE);
  }

  private final ChromeDriver driver;
  private final ChromeDriverService service;
  private final Path artifacts;

  private HeadlessChromium(ChromeDriver driver, ChromeDriverService service, Path artifacts) {
    this.driver = driver;
    this.service = service;
    this.artifacts = artifacts;
  }

  /** The first of {@code names} that is an executable file on the PATH. */
  static Optional<Path> onPath(String... names) {
    String path = Optional.ofNullable(System.getenv("PATH")).orElse("");
    for (String name : names) {
      for (String dir : path.split(File.pathSeparator)) {
        if (dir.isEmpty()) {
          continue;
        }
        Path candidate = Path.of(dir, name);
        if (Files.isRegularFile(candidate) && Files.isExecutable(candidate)) {
          return Optional.of(candidate);
        }
      }
    }
    return Optional.empty();
  }

  /**
   * Starts {@code chromedriver} on a free port and a headless {@code browser} through it, at
   * {@code width}×{@code height}; screenshots and logs go to {@code artifacts}.
   */
  static HeadlessChromium start(Path browser, Path chromedriver, Path artifacts, int width, int height) throws IOException {
    Files.createDirectories(artifacts);
    ChromeDriverService service = new ChromeDriverService.Builder()
        .usingDriverExecutable(chromedriver.toFile())
        .usingAnyFreePort()
        .withLogFile(artifacts.resolve("chromedriver.log").toFile())
        .build();
    ChromeOptions options = new ChromeOptions();
    options.setBinary(browser.toFile());
    options.addArguments(
        "--headless=new",
        "--no-sandbox", // tests run as root, where Chromium's sandbox refuses to start
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=" + width + "," + height,
        "--no-first-run",
        "--no-default-browser-check");
    LoggingPreferences logs = new LoggingPreferences();
    logs.enable(LogType.BROWSER, Level.ALL);
    options.setCapability("goog:loggingPrefs", logs);
    ChromeDriver driver;
    try {
      driver = new ChromeDriver(service, options);
    } catch (RuntimeException e) {
      service.stop();
      throw e;
    }
    driver.manage().timeouts().pageLoadTimeout(Duration.ofSeconds(60));
    driver.manage().timeouts().scriptTimeout(Duration.ofSeconds(30));
    return new HeadlessChromium(driver, service, artifacts);
  }

  ChromeDriver driver() {
    return driver;
  }

  Object js(String script, Object... args) {
    return ((JavascriptExecutor) driver).executeScript(script, args);
  }

  /** What the browser says it is, e.g. {@code chrome 150.0.7871.100}. */
  String version() {
    return driver.getCapabilities().getBrowserName() + " " + driver.getCapabilities().getBrowserVersion();
  }

  /** The viewport as a PNG under {@code artifacts}. */
  Path screenshot(String name) throws IOException {
    Path to = artifacts.resolve(name);
    Files.write(to, driver.getScreenshotAs(OutputType.BYTES));
    return to;
  }

  /** Sizes the window so that the page sees a {@code width}×{@code height} viewport (the window's frame aside). */
  void viewport(int width, int height) {
    driver.manage().window().setSize(new Dimension(width, height));
    long innerWidth = ((Number) js("return window.innerWidth;")).longValue();
    long innerHeight = ((Number) js("return window.innerHeight;")).longValue();
    driver.manage().window().setSize(new Dimension((int) (2L * width - innerWidth), (int) (2L * height - innerHeight)));
  }

  /** The whole page at {@code width}, up to {@code maxHeight}: the viewport grows to the page for the shot. */
  Path fullPageScreenshot(String name, int width, int height, int maxHeight) throws IOException {
    long page = ((Number) js("return Math.max(document.documentElement.scrollHeight, document.body.scrollHeight);")).longValue();
    viewport(width, (int) Math.max(height, Math.min(maxHeight, page)));
    try {
      return screenshot(name);
    } finally {
      viewport(width, height);
    }
  }

  /** The browser console so far (each read drains it), one line an entry. */
  List<String> console() {
    try {
      return driver.manage().logs().get(LogType.BROWSER).getAll().stream().map(HeadlessChromium::line).toList();
    } catch (RuntimeException e) {
      return List.of("(console log unavailable: " + e + ")");
    }
  }

  /** Appends the console so far to {@code console.log} under {@code artifacts}, and returns it. */
  List<String> saveConsole() {
    List<String> lines = console();
    try {
      Files.write(artifacts.resolve("console.log"), lines, StandardCharsets.UTF_8,
          StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    } catch (IOException e) {
      System.err.println("could not write console.log: " + e);
    }
    return lines;
  }

  /**
   * After a failure: a screenshot, the page's HTML, the console log, and the page's text and
   * console printed, so the report alone says what the user would have seen.
   */
  void saveFailureEvidence(String name) {
    StringBuilder out = new StringBuilder("\n===== browser at failure (" + name + ") =====\n");
    try {
      out.append("url: ").append(driver.getCurrentUrl()).append('\n');
      out.append("screenshot: ").append(screenshot(name + ".png")).append('\n');
    } catch (Exception e) {
      out.append("(no screenshot: ").append(e).append(")\n");
    }
    try {
      Path html = artifacts.resolve(name + ".html");
      Files.writeString(html, driver.getPageSource(), StandardCharsets.UTF_8);
      out.append("page source: ").append(html).append('\n');
    } catch (Exception e) {
      out.append("(no page source: ").append(e).append(")\n");
    }
    try {
      out.append("----- page text -----\n").append(js("return document.body ? document.body.innerText : '(no body)'")).append('\n');
    } catch (Exception e) {
      out.append("(no page text: ").append(e).append(")\n");
    }
    out.append("----- console (").append(artifacts.resolve("console.log")).append(") -----\n");
    saveConsole().forEach(l -> out.append(l).append('\n'));
    out.append("===== end of browser state =====\n");
    System.out.println(out);
  }

  private static String line(LogEntry e) {
    return e.getLevel() + " " + e.getMessage();
  }

  /** The debugging leftovers of earlier runs, so the directory shows this run only. */
  static void clean(Path artifacts) throws IOException {
    if (!Files.isDirectory(artifacts)) {
      return;
    }
    try (Stream<Path> files = Files.list(artifacts)) {
      for (Path p : files.toList()) {
        Files.deleteIfExists(p);
      }
    }
  }

  /** Ends the browser and the driver; never throws, so it can run after any failure. */
  @Override
  public void close() {
    try {
      driver.quit();
    } catch (RuntimeException e) {
      System.err.println("chromium did not quit cleanly: " + e);
    } finally {
      service.stop();
    }
  }
}
