package io.reelay.sim;

import io.reelay.sim.SimSettings.RenderMode;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.GradientPaint;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import org.jcodec.api.awt.AWTSequenceEncoder;

/**
 * Writes real, playable H.264 MP4s (JCodec, 24 fps) whose frames show the title. Pure-Java encoding is
 * slow (~45 fps at 640x360 on one core), so files are cached on disk by (duration, title, resolution)
 * and encoded on a small dedicated pool, never on a Pekko dispatcher. In {@link RenderMode#SHARED} every
 * title gets the one clip of its duration that shows {@link #SHARED_TITLE}: a load test then costs one
 * encode per distinct duration, not one per title.
 */
public final class Mp4Renderer implements AutoCloseable {

  public static final int FPS = 24;
  /** What the frames of a {@link RenderMode#SHARED} clip show instead of the draft's title. */
  public static final String SHARED_TITLE = "Shared load-test clip";

  private final Path cacheDir;
  private final int width;
  private final int height;
  private final RenderMode mode;
  private final ExecutorService encoders;
  private final LongAdder encodes = new LongAdder();
  private final ConcurrentHashMap<String, CompletableFuture<Path>> inFlight = new ConcurrentHashMap<>();

  public Mp4Renderer(Path cacheDir, int width, int height, int threads, RenderMode mode) {
    this.cacheDir = cacheDir;
    this.width = width;
    this.height = height;
    this.mode = mode;
    AtomicInteger n = new AtomicInteger();
    this.encoders = new ThreadPoolExecutor(threads, threads, 0, TimeUnit.MILLISECONDS, new LinkedBlockingQueue<>(), r -> {
      Thread t = new Thread(r, "nemo-sim-mp4-" + n.incrementAndGet());
      t.setDaemon(true); // an unfinished encode must not keep a stopping JVM alive
      return t;
    });
  }

  /**
   * The MP4 for a clip of {@code durationMs} showing {@code title} (or {@link #SHARED_TITLE}, in shared
   * mode): from the cache when it exists, otherwise encoded once however many callers ask at the same time.
   */
  public CompletableFuture<Path> render(long durationMs, String title) {
    String safeTitle = shownTitle(title);
    long ms = Math.max(1000 / FPS, durationMs);
    Path target = cacheDir.resolve(fileName(ms, safeTitle));
    CompletableFuture<Path> f = inFlight.computeIfAbsent(target.toString(), k -> {
      if (Files.isRegularFile(target)) return CompletableFuture.completedFuture(target);
      return CompletableFuture.supplyAsync(() -> {
        try {
          Files.createDirectories(cacheDir);
          Path tmp = Files.createTempFile(cacheDir, "encoding-", ".mp4");
          encodes.increment();
          encode(tmp, ms, safeTitle, width, height);
          // atomic move: a reader never sees a half-written file, even from an earlier crashed run
          return Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
          throw new UncheckedIOException("encoding " + target.getFileName() + " failed", e);
        }
      }, encoders);
    });
    // a failed encode is forgotten so that the next render tries again
    f.whenComplete((p, e) -> { if (e != null) inFlight.remove(target.toString(), f); });
    return f;
  }

  /** MP4 encodes started since this renderer was made: cache misses (a cached or in-flight clip is not encoded again). */
  public long encodes() {
    return encodes.sum();
  }

  private String shownTitle(String requested) {
    if (mode == RenderMode.SHARED) return SHARED_TITLE;
    return requested == null || requested.isBlank() ? "Reelay" : requested.strip();
  }

  /** Encodes one clip synchronously (blocking, CPU-bound: call it off any event loop). */
  public static void encode(Path target, long durationMs, String title, int width, int height) throws IOException {
    int frames = (int) Math.max(1, Math.round(durationMs * FPS / 1000.0));
    AWTSequenceEncoder encoder = AWTSequenceEncoder.createSequenceEncoder(target.toFile(), FPS);
    BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_3BYTE_BGR);
    Graphics2D g = image.createGraphics();
    try {
      g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
      g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
      Font titleFont = fitFont(g, title, width, height);
      Font smallFont = new Font(Font.SANS_SERIF, Font.PLAIN, Math.max(10, height / 24));
      for (int i = 0; i < frames; i++) {
        drawFrame(g, i, frames, title, titleFont, smallFont, width, height);
        encoder.encodeImage(image);
      }
    } finally {
      g.dispose();
      encoder.finish(); // writes the moov index; without it the file is unplayable
    }
  }

  private static void drawFrame(Graphics2D g, int frame, int frames, String title, Font titleFont, Font smallFont,
      int w, int h) {
    float phase = (float) frame / Math.max(1, frames);
    Color from = Color.getHSBColor(0.58f + 0.25f * phase, 0.65f, 0.35f);
    Color to = Color.getHSBColor(0.95f - 0.2f * phase, 0.55f, 0.15f);
    g.setPaint(new GradientPaint(0, 0, from, w, h, to));
    g.fillRect(0, 0, w, h);
    // something that moves, so the clip is visibly a video
    int r = h / 10;
    int x = (int) ((w + 2 * r) * phase) - r;
    g.setColor(new Color(255, 200, 80, 200));
    g.fillOval(x - r, (int) (h * 0.72) - r, 2 * r, 2 * r);
    g.setStroke(new BasicStroke(2f));
    g.setColor(new Color(255, 255, 255, 90));
    g.drawLine(0, (int) (h * 0.72), w, (int) (h * 0.72));

    g.setFont(titleFont);
    FontMetrics fm = g.getFontMetrics();
    int tx = (w - fm.stringWidth(title)) / 2;
    int ty = h / 2 - fm.getHeight() / 2 + fm.getAscent() - h / 10;
    g.setColor(new Color(0, 0, 0, 140));
    g.drawString(title, tx + 2, ty + 2);
    g.setColor(Color.WHITE);
    g.drawString(title, tx, ty);

    g.setFont(smallFont);
    g.setColor(new Color(255, 255, 255, 180));
    g.drawString(String.format(Locale.ROOT, "nemo-sim  %.2fs", frame / (double) FPS), w / 40, h - h / 30);
  }

  private static Font fitFont(Graphics2D g, String title, int w, int h) {
    int size = Math.max(12, h / 8);
    Font font = new Font(Font.SANS_SERIF, Font.BOLD, size);
    while (size > 10 && g.getFontMetrics(font).stringWidth(title) > w * 0.9) {
      size -= 2;
      font = new Font(Font.SANS_SERIF, Font.BOLD, size);
    }
    return font;
  }

  private String fileName(long ms, String title) {
    try {
      byte[] digest = MessageDigest.getInstance("SHA-256").digest(title.getBytes(StandardCharsets.UTF_8));
      return "clip-" + width + "x" + height + "-" + ms + "ms-" + HexFormat.of().formatHex(digest, 0, 6) + ".mp4";
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public void close() {
    encoders.shutdownNow();
  }
}
