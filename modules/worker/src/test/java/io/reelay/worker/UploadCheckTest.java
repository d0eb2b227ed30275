package io.reelay.worker;

import static org.assertj.core.api.Assertions.assertThat;

import io.reelay.protocol.Request;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Uploads from the media directory, per tenant: tenant {@code acme} has {@code media/acme/}, and
 * nothing it asks for reaches {@code media/other/} or anything else outside its own directory. The
 * walk is run both ways: with directory handles ({@code secure}) and by path (other platforms).
 */
class UploadCheckTest {

  private static final String TENANT = "acme";

  @TempDir Path media;
  @TempDir Path elsewhere;
  private Path own;
  private Path other;

  @BeforeEach
  void twoTenants() throws IOException {
    own = Files.createDirectories(media.resolve(TENANT));
    other = Files.createDirectories(media.resolve("other"));
    Files.writeString(other.resolve("x.mp4"), "other tenant's clip");
    Files.writeString(elsewhere.resolve("secret.mp4"), "not in the media directory");
  }

  private UploadCheck.Verdict check(String path, boolean secure) {
    return UploadCheck.check(new Request.Upload(null, path, null, null), TENANT, media, 1000, secure);
  }

  private UploadCheck.Verdict check(String path) {
    return check(path, true);
  }

  private static String read(UploadCheck.LocalFile f) throws IOException {
    try (f) {
      ByteBuffer b = ByteBuffer.allocate((int) f.bytes());
      while (b.hasRemaining() && f.channel().read(b) >= 0) {
        // until the checked size
      }
      return new String(b.array(), 0, b.position(), StandardCharsets.UTF_8);
    }
  }

  @Test
  void aFileInTheTenantsOwnDirectoryGoesOpenWithItsType() throws Exception {
    Files.createDirectories(own.resolve("clips"));
    Files.writeString(own.resolve("clips/a.MP4"), "0123456789");
    UploadCheck.LocalFile f = (UploadCheck.LocalFile) check("clips/./a.MP4");
    assertThat(f.name()).isEqualTo("a.MP4");
    assertThat(f.contentType()).isEqualTo("video/mp4");
    assertThat(f.bytes()).isEqualTo(10);
    assertThat(f.channel().isOpen()).isTrue();
    assertThat(read(f)).isEqualTo("0123456789");
    assertThat(UploadCheck.refusal(new Request.Upload(null, "clips/a.MP4", null, null), TENANT, media, 1000)).isNull();
  }

  @ParameterizedTest(name = "secure={0}")
  @ValueSource(booleans = {true, false})
  void noWayOutOfTheTenantsDirectoryAndTheSameAnswerWhetherTheTargetExistsOrNot(boolean secure) throws Exception {
    Files.createSymbolicLink(own.resolve("abs.mp4"), other.resolve("x.mp4"));
    Files.createSymbolicLink(own.resolve("abs-missing.mp4"), other.resolve("missing.mp4"));
    Files.createSymbolicLink(own.resolve("rel.mp4"), Path.of("../other/x.mp4"));
    Files.createSymbolicLink(own.resolve("rel-missing.mp4"), Path.of("../other/missing.mp4"));
    Files.createSymbolicLink(own.resolve("peek"), Path.of("../other"));
    Files.createSymbolicLink(own.resolve("away.mp4"), elsewhere.resolve("secret.mp4"));
    Files.createSymbolicLink(own.resolve("away-missing.mp4"), elsewhere.resolve("missing.mp4"));
    // each pair: a way out to a file that exists, and the same way to one that does not
    Map<String, String> ways = new LinkedHashMap<>();
    ways.put("../other/x.mp4", "../other/missing.mp4");
    ways.put("a/../../other/x.mp4", "a/../../other/missing.mp4");
    ways.put(elsewhere.resolve("secret.mp4").toString(), elsewhere.resolve("missing.mp4").toString());
    ways.put("abs.mp4", "abs-missing.mp4");
    ways.put("rel.mp4", "rel-missing.mp4");
    ways.put("peek/x.mp4", "peek/missing.mp4");
    ways.put("away.mp4", "away-missing.mp4");
    String hint = null;
    for (Map.Entry<String, String> way : ways.entrySet()) {
      UploadCheck.Refused exists = refused(way.getKey(), secure);
      UploadCheck.Refused missing = refused(way.getValue(), secure);
      for (UploadCheck.Refused r : new UploadCheck.Refused[] {exists, missing}) {
        assertThat(r.code()).as("%s", r).isEqualTo("PATH_OUTSIDE_MEDIA_DIR");
        assertThat(r.reason() + r.hint()).as("no server path in %s", r)
            .doesNotContain(media.toString()).doesNotContain(media.toRealPath().toString());
      }
      assertThat(exists.reason().replace(way.getKey(), "?")).isEqualTo(missing.reason().replace(way.getValue(), "?"));
      assertThat(exists.hint()).isEqualTo(missing.hint());
      hint = hint == null ? exists.hint() : hint;
      assertThat(exists.hint()).isEqualTo(hint);
    }
    assertThat(hint).contains("acme/ under the worker's uploads.media-dir");
  }

  private UploadCheck.Refused refused(String path, boolean secure) {
    UploadCheck.Verdict v = check(path, secure);
    assertThat(v).as(path).isInstanceOf(UploadCheck.Refused.class);
    return (UploadCheck.Refused) v;
  }

  @Test
  void anotherTenantsFileByItsRelativePathIsLookedForInTheTenantsOwnDirectory() {
    assertThat(check("x.mp4")).isInstanceOfSatisfying(UploadCheck.Refused.class, r -> {
      assertThat(r.code()).isEqualTo("NOT_FOUND");
      assertThat(r.reason()).isEqualTo("no file x.mp4 in the media directory of tenant acme");
      assertThat(r.hint()).doesNotContain(media.toString());
    });
    assertThat(check("other/x.mp4")).isInstanceOfSatisfying(UploadCheck.Refused.class,
        r -> assertThat(r.code()).isEqualTo("NOT_FOUND"));
  }

  @ParameterizedTest(name = "secure={0}")
  @ValueSource(booleans = {true, false})
  void linksThatStayInsideTheTenantsDirectoryAreFollowed(boolean secure) throws Exception {
    Files.createDirectories(own.resolve("clips"));
    Files.writeString(own.resolve("clips/a.mp4"), "clip a");
    Files.createSymbolicLink(own.resolve("alias.mp4"), Path.of("clips/a.mp4"));
    Files.createSymbolicLink(own.resolve("clips/up.mp4"), Path.of("../clips/a.mp4"));
    Files.createSymbolicLink(own.resolve("absolute.mp4"), own.toRealPath().resolve("clips/a.mp4"));
    Files.createSymbolicLink(own.resolve("shelf"), Path.of("clips"));
    for (String p : new String[] {"alias.mp4", "clips/up.mp4", "absolute.mp4", "shelf/a.mp4"}) {
      UploadCheck.Verdict v = check(p, secure);
      assertThat(v).as(p).isInstanceOf(UploadCheck.LocalFile.class);
      assertThat(read((UploadCheck.LocalFile) v)).as(p).isEqualTo("clip a");
    }
    Files.createSymbolicLink(own.resolve("loop.mp4"), Path.of("loop.mp4"));
    assertThat(check("loop.mp4", secure)).isInstanceOfSatisfying(UploadCheck.Refused.class,
        r -> assertThat(r.code()).isEqualTo("NOT_READABLE"));
  }

  @ParameterizedTest(name = "secure={0}")
  @ValueSource(booleans = {true, false})
  void aSwapAfterTheCheckCannotChangeWhatIsRead(boolean secure) throws Exception {
    Files.writeString(own.resolve("clip.mp4"), "the checked clip");
    UploadCheck.LocalFile checked = (UploadCheck.LocalFile) check("clip.mp4", secure);
    // the path now leads to another tenant's file; the upload reads the handle the check opened
    Files.delete(own.resolve("clip.mp4"));
    Files.createSymbolicLink(own.resolve("clip.mp4"), other.resolve("x.mp4"));
    assertThat(read(checked)).isEqualTo("the checked clip");
    assertThat(checked.channel().isOpen()).isFalse();
    assertThat(check("clip.mp4", secure)).isInstanceOfSatisfying(UploadCheck.Refused.class,
        r -> assertThat(r.code()).isEqualTo("PATH_OUTSIDE_MEDIA_DIR"));
  }

  @ParameterizedTest(name = "secure={0}")
  @ValueSource(booleans = {true, false})
  void aTenantDirectoryThatIsALinkIsNotFollowed(boolean secure) throws Exception {
    Files.createSymbolicLink(media.resolve("evil"), elsewhere);
    UploadCheck.Verdict v = UploadCheck.check(new Request.Upload(null, "secret.mp4", null, null), "evil", media, 1000, secure);
    assertThat(v).isInstanceOfSatisfying(UploadCheck.Refused.class, r -> {
      assertThat(r.code()).isEqualTo("NOT_READABLE");
      assertThat(r.reason() + r.hint()).doesNotContain(elsewhere.toString()).doesNotContain(media.toString());
    });
  }

  @Test
  void aTenantNamedDotOrDotDotHasNoMediaDirectory() throws Exception {
    Files.writeString(media.resolve("x.mp4"), "in media-dir itself");
    for (String tenant : new String[] {".", ".."}) {
      assertThat(UploadCheck.check(new Request.Upload(null, "x.mp4", null, null), tenant, media, 1000))
          .as(tenant).isInstanceOfSatisfying(UploadCheck.Refused.class, r -> assertThat(r.code()).isEqualTo("INVALID_TENANT"));
    }
  }

  @Test
  void typeAndSizeAreCheckedBeforeSending() throws Exception {
    Files.write(own.resolve("notes.txt"), new byte[1]);
    Files.write(own.resolve("big.mov"), new byte[2000]);
    Files.createDirectories(own.resolve("folder.mp4"));
    assertThat(check("notes.txt")).isInstanceOfSatisfying(UploadCheck.Refused.class, r -> {
      assertThat(r.code()).isEqualTo("4001");
      assertThat(r.hint()).contains("mp4 mov avi webm mkv");
    });
    assertThat(check("big.mov")).isInstanceOfSatisfying(UploadCheck.Refused.class, r -> assertThat(r.code()).isEqualTo("4002"));
    assertThat(check("missing.mp4")).isInstanceOfSatisfying(UploadCheck.Refused.class, r -> assertThat(r.code()).isEqualTo("NOT_FOUND"));
    assertThat(check("folder.mp4")).isInstanceOfSatisfying(UploadCheck.Refused.class, r -> assertThat(r.code()).isEqualTo("NOT_FOUND"));
    assertThat(check("big.mov/x.mp4")).isInstanceOfSatisfying(UploadCheck.Refused.class, r -> assertThat(r.code()).isEqualTo("NOT_FOUND"));
    assertThat(UploadCheck.check(new Request.Upload(null, "a.mp4", null, null), "nobody-yet", media, 1000))
        .isInstanceOfSatisfying(UploadCheck.Refused.class, r -> assertThat(r.code()).isEqualTo("NOT_FOUND"));
  }

  @Test
  void urlsNeedHttpAndAnAcceptedType() {
    assertThat(UploadCheck.check(new Request.Upload("https://cdn.example.com/v/a.webm?sig=1", null, null, null), TENANT, media, 1))
        .isEqualTo(new UploadCheck.Url("https://cdn.example.com/v/a.webm?sig=1"));
    assertThat(UploadCheck.check(new Request.Upload("file:///etc/passwd", null, null, null), TENANT, media, 1))
        .isInstanceOf(UploadCheck.Refused.class);
    assertThat(UploadCheck.check(new Request.Upload("https://x/y.exe", null, null, null), TENANT, media, 1))
        .isInstanceOfSatisfying(UploadCheck.Refused.class, r -> assertThat(r.code()).isEqualTo("4001"));
  }
}
