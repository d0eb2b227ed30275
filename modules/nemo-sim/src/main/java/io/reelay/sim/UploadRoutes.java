package io.reelay.sim;

import static org.apache.pekko.http.javadsl.server.PathMatchers.segment;

import com.fasterxml.jackson.databind.JsonNode;
import io.reelay.protocol.Json;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import javax.imageio.ImageIO;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.http.javadsl.model.HttpEntity;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.MediaTypes;
import org.apache.pekko.http.javadsl.model.Multipart;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.http.javadsl.unmarshalling.Unmarshaller;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.javadsl.FileIO;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;

/**
 * E5 {@code POST /api/upload-video/nemo_agent/me/{sid}}: multipart (one or more parts named {@code files})
 * or the JSON URL form. Multipart bodies are streamed to disk (never held in memory) with their size
 * counted against {@code max-upload-bytes}, so a 500 MB limit costs no heap. Accepted files are added to
 * the session's {@code video_infos} and served back at their {@code cdn_url} ({@code /files/uploads/…}).
 */
final class UploadRoutes extends SimRoutes {

  private static final Duration JSON_TIMEOUT = Duration.ofSeconds(10);
  private static final long MAX_JSON_BYTES = 1024 * 1024;

  private final Materializer mat;
  private final Path uploadDir;

  UploadRoutes(NemoBackend backend, ActorSystem<?> system) {
    super(backend, system);
    this.mat = Materializer.matFromSystem(system);
    this.uploadDir = backend.settings.cacheDir().resolve("uploads");
  }

  Route route() {
    return concat(
        path(segment("api").slash("upload-video").slash("nemo_agent").slash("me").slash(segment()),
            sid -> post(() -> apiStreaming("upload", call -> upload(call, sid)))),
        pathPrefix(segment("files").slash("uploads"), () -> path(segment().slash(segment()), (id, name) -> get(() -> {
          backend.stats().call("files");
          Path file = uploadDir.resolve(safe(id)).resolve(safe(name));
          return Files.isRegularFile(file) ? getFromFile(file.toFile()) : complete(StatusCodes.NOT_FOUND, "no such file");
        }))));
  }

  /** What one {@code files} part turned into. */
  private record Received(String filename, String fileType, long size, String hash, Path file, boolean unsupported) {}

  private CompletionStage<HttpResponse> upload(Call call, String sessionId) {
    HttpEntity entity = call.request.entity();
    Account account;
    BackendSession session;
    try {
      account = call.account();
      session = call.session(account, sessionId);
    } catch (RuntimeException e) {
      entity.discardBytes(mat);
      throw e;
    }
    backend.stats().uploads.increment();
    if (entity.getContentType().mediaType().isMultipart()) return multipart(entity, session);
    if (entity.getContentType().mediaType().equals(MediaTypes.APPLICATION_JSON)) {
      return entity.toStrict(JSON_TIMEOUT.toMillis(), MAX_JSON_BYTES, mat).thenApply(strict -> urls(strict.getData().utf8String(), session));
    }
    entity.discardBytes(mat);
    throw SimError.badRequest("send multipart/form-data with parts named 'files', or application/json {\"urls\":[…]}");
  }

  // ---- multipart ----------------------------------------------------------------------------------

  @SuppressWarnings("unchecked")
  private CompletionStage<HttpResponse> multipart(HttpEntity entity, BackendSession session) {
    String uploadId = backend.ids.shortId("up_");
    Path dir = uploadDir.resolve(uploadId);
    return Unmarshaller.entityToMultipartFormData().unmarshal(entity, mat)
        .thenCompose(form -> ((Source<Multipart.FormData.BodyPart, Object>) form.getParts())
            .mapAsync(1, part -> receive(part, dir))
            .runWith(Sink.seq(), mat))
        .thenComposeAsync(received -> accept(received, dir, session, uploadId),
            system.dispatchers().lookup(DispatcherSelector.blocking()));
  }

  /** Streams one part to disk (files parts only), counting and hashing; stops writing once over the limit. */
  private CompletionStage<Optional<Received>> receive(Multipart.FormData.BodyPart part, Path dir) {
    var bytes = part.getEntity().getDataBytes();
    if (!part.getName().equals("files")) {
      return bytes.runWith(Sink.ignore(), mat).thenApply(d -> Optional.empty());
    }
    String filename = safe(part.getFilename().orElse("file"));
    Optional<String> type = fileType(filename);
    if (type.isEmpty()) {
      return bytes.runWith(Sink.ignore(), mat).thenApply(d -> Optional.of(new Received(filename, "", 0, "", null, true)));
    }
    long limit = backend.settings.maxUploadBytes();
    MessageDigest sha = sha256();
    long[] size = {0};
    Path target = dir.resolve(filename);
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      return CompletableFuture.failedFuture(e);
    }
    return bytes
        .map(bs -> {
          size[0] += bs.size();
          if (size[0] <= limit) sha.update(bs.asByteBuffer());
          return bs;
        })
        .filter(bs -> size[0] <= limit) // over the limit: keep reading (the client is still sending), stop writing
        .runWith(FileIO.toPath(target), mat)
        .thenApply(io -> Optional.of(new Received(filename, type.get(), size[0],
            HexFormat.of().formatHex(sha.digest()).substring(0, 16), target, false)));
  }

  /** All parts read: refuse the whole request (4001 / 4002) or add every file to the session. Blocking IO: off the request dispatcher. */
  private CompletionStage<HttpResponse> accept(List<Optional<Received>> parts, Path dir, BackendSession session, String uploadId) {
    List<Received> files = parts.stream().flatMap(Optional::stream).toList();
    long limit = backend.settings.maxUploadBytes();
    SimError refusal = null;
    for (Received r : files) {
      if (r.unsupported()) {
        refusal = SimError.unsupportedType(r.filename() + " (accepted: mp4 mov avi webm mkv jpg png gif webp mp3 wav m4a aac)");
        break;
      }
      if (r.size() > limit && refusal == null) refusal = SimError.tooLarge(r.filename() + " is " + r.size() + " bytes, the limit is " + limit);
    }
    if (files.isEmpty()) refusal = SimError.badRequest("no parts named 'files' in the multipart body");
    if (refusal != null) {
      deleteQuietly(dir);
      throw refusal;
    }
    List<Map<String, Object>> out = new ArrayList<>();
    for (Received r : files) {
      Map<String, Object> info = describe(r, backend.publicBaseUrl() + "/files/uploads/" + uploadId + "/" + r.filename());
      session.addVideoInfo(info);
      out.add(info);
    }
    backend.stats().filesUploaded.add(files.size());
    return done(ok(Agent.map("files", out, "session_state_applied", true)));
  }

  /** The documented response fields; media facts are read from the file where that is cheap (MP4, images). */
  private Map<String, Object> describe(Received r, String url) {
    double duration = 0;
    int width = 0;
    int height = 0;
    int fps = 0;
    switch (r.fileType()) {
      case "video" -> {
        // an MP4 we can read gives its real numbers; anything else gets plausible ones
        duration = 10.0;
        width = backend.settings.videoWidth();
        height = backend.settings.videoHeight();
        fps = Mp4Renderer.FPS;
        try {
          Mp4Info info = Mp4Probe.probe(r.file());
          duration = info.durationSeconds();
          width = info.width();
          height = info.height();
          fps = info.durationSeconds() > 0 ? (int) Math.round(info.frames() / info.durationSeconds()) : fps;
        } catch (IOException | RuntimeException notAnMp4) {
          // keep the plausible numbers
        }
      }
      case "image" -> {
        try {
          BufferedImage img = ImageIO.read(r.file().toFile());
          if (img != null) {
            width = img.getWidth();
            height = img.getHeight();
          }
        } catch (IOException | RuntimeException unreadable) {
          // unknown size
        }
      }
      default -> duration = Math.round(r.size() * 8 / 128_000.0 * 10) / 10.0; // audio: as if 128 kbit/s
    }
    Map<String, Object> info = Agent.map("filename", r.filename(), "file_type", r.fileType(), "cdn_url", url,
        "duration", duration);
    if (!r.fileType().equals("audio")) {
      info.put("width", width);
      info.put("height", height);
    }
    if (r.fileType().equals("video")) info.put("fps", fps);
    info.put("hash", r.hash());
    info.put("size", r.size());
    return info;
  }

  // ---- JSON URL form ------------------------------------------------------------------------------

  /** {@code {"urls":[…],"source_type":"url"}}: nothing is fetched; the type comes from the URL's extension. */
  private HttpResponse urls(String body, BackendSession session) {
    JsonNode urls;
    try {
      urls = Json.mapper().readTree(body.isBlank() ? "{}" : body).path("urls");
    } catch (IOException e) {
      throw SimError.badRequest("the body is not valid JSON");
    }
    if (!urls.isArray() || urls.isEmpty()) throw SimError.badRequest("urls is required: {\"urls\":[\"https://…\"],\"source_type\":\"url\"}");
    List<Map<String, Object>> files = new ArrayList<>();
    for (JsonNode u : urls) {
      String url = u.asText();
      String path = url.replaceFirst("[?#].*$", "");
      String name = path.substring(path.lastIndexOf('/') + 1);
      String type = fileType(name).orElseThrow(() -> SimError.unsupportedType(extension(name).isEmpty() ? name : extension(name)));
      Map<String, Object> info = Agent.map("filename", name, "file_type", type, "cdn_url", url, "duration", type.equals("image") ? 0.0 : 10.0);
      if (!type.equals("audio")) {
        info.put("width", backend.settings.videoWidth());
        info.put("height", backend.settings.videoHeight());
      }
      if (type.equals("video")) info.put("fps", Mp4Renderer.FPS);
      info.put("hash", HexFormat.of().formatHex(sha256().digest(url.getBytes(StandardCharsets.UTF_8))).substring(0, 16));
      files.add(info);
    }
    files.forEach(session::addVideoInfo);
    backend.stats().filesUploaded.add(files.size());
    return ok(Agent.map("files", files, "session_state_applied", true));
  }

  // ---- helpers ------------------------------------------------------------------------------------

  /** The vendor's whitelist (nemo-api.md §2): video mp4 mov avi webm mkv; image jpg png gif webp; audio mp3 wav m4a aac. */
  static Optional<String> fileType(String filename) {
    return Optional.ofNullable(switch (extension(filename)) {
      case "mp4", "mov", "avi", "webm", "mkv" -> "video";
      case "jpg", "jpeg", "png", "gif", "webp" -> "image";
      case "mp3", "wav", "m4a", "aac" -> "audio";
      default -> null;
    });
  }

  private static String extension(String name) {
    int dot = name.lastIndexOf('.');
    return dot < 0 ? "" : name.substring(dot + 1).toLowerCase(Locale.ROOT);
  }

  private static String safe(String name) {
    String s = name.replaceAll("[^A-Za-z0-9._-]", "_");
    return s.isEmpty() || s.startsWith(".") ? "_" + s : s;
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static void deleteQuietly(Path dir) {
    try (var files = Files.walk(dir)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException ignored) {
      // best effort: a leftover file in the cache dir harms nobody
    }
  }
}
