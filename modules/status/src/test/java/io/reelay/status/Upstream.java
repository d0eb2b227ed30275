package io.reelay.status;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.MediaTypes;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.Location;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.PathMatchers;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.util.ByteString;

/**
 * A backend's file host for the media proxy's tests, on 127.0.0.1 and a free port: {@code
 * /files/video.mp4} is served by pekko-http's {@code getFromFile} (Content-Length, ETag,
 * Last-Modified, byte ranges, If-Range: what nemo-sim serves its MP4s with), next to the ways a
 * backend goes wrong. Every URL it hands out carries a {@code token} that must never leave the
 * status service.
 */
final class Upstream extends AllDirectives implements AutoCloseable {

  static final String TOKEN = "upstream-secret-token-4f1c";

  final byte[] video;
  final Path file;
  /** Completing it lets {@code /stall} send the second half of the video. */
  final CompletableFuture<ByteString> release = new CompletableFuture<>();
  private final ServerBinding binding;

  Upstream(ActorSystem<?> system) throws Exception {
    video = new byte[256 * 1024];
    new Random(42).nextBytes(video);
    file = Files.createTempFile("reelay-upstream", ".mp4");
    Files.write(file, video);
    binding = org.apache.pekko.http.javadsl.Http.get(system).newServerAt("127.0.0.1", 0).bind(route())
        .toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  private Route route() {
    ByteString firstHalf = ByteString.fromArray(video, 0, video.length / 2);
    ByteString secondHalf = ByteString.fromArray(video, video.length / 2, video.length - video.length / 2);
    return concat(
        path(PathMatchers.segment("files").slash("video.mp4"), () -> getFromFile(file.toFile(), MediaTypes.VIDEO_MP4.toContentType())),
        path("broken", () -> complete(StatusCodes.INTERNAL_SERVER_ERROR, "backend down at " + TOKEN)),
        path("gone", () -> complete(StatusCodes.NOT_FOUND, "no such file")),
        path("moved", () -> complete(HttpResponse.create().withStatus(StatusCodes.FOUND)
            .addHeader(Location.create("/files/video.mp4?token=" + TOKEN)))),
        path("loop", () -> complete(HttpResponse.create().withStatus(StatusCodes.FOUND).addHeader(Location.create("/loop?token=" + TOKEN)))),
        path("to-file", () -> complete(HttpResponse.create().withStatus(StatusCodes.FOUND).addHeader(Location.create("file:///etc/passwd")))),
        path("page", () -> complete(HttpResponse.create().withEntity(
            HttpEntities.create(ContentTypes.TEXT_HTML_UTF8, "<script>alert(document.cookie)</script>")))),
        path("octets", () -> complete(HttpResponse.create().withEntity(HttpEntities.create(ContentTypes.APPLICATION_OCTET_STREAM, video)))),
        path("silent", () -> completeWithFuture(new CompletableFuture<HttpResponse>())),
        path("hang", () -> complete(HttpResponse.create().withEntity(HttpEntities.create(MediaTypes.VIDEO_MP4.toContentType(),
            video.length, Source.single(firstHalf).concat(Source.never()))))),
        path("stall", () -> complete(HttpResponse.create().withEntity(HttpEntities.create(MediaTypes.VIDEO_MP4.toContentType(),
            video.length, Source.single(firstHalf).concat(Source.completionStage(release.thenApply(x -> secondHalf))))))));
  }

  /** {@code http://127.0.0.1:PORT/PATH?token=…}. */
  String url(String path) {
    return base() + path + "?token=" + TOKEN;
  }

  String base() {
    return "http://127.0.0.1:" + port();
  }

  int port() {
    return binding.localAddress().getPort();
  }

  @Override
  public void close() throws Exception {
    release.complete(ByteString.emptyByteString());
    binding.unbind();
    Files.deleteIfExists(file);
  }
}
