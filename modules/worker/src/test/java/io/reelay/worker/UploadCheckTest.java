package io.reelay.worker;

import static org.assertj.core.api.Assertions.assertThat;

import io.reelay.protocol.Request;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class UploadCheckTest {

  @TempDir Path media;
  @TempDir Path elsewhere;

  private UploadCheck.Verdict check(String path) {
    return UploadCheck.check(new Request.Upload(null, path, null, null), media, 1000);
  }

  @Test
  void aFileInsideTheMediaDirectoryGoesWithItsType() throws Exception {
    Files.createDirectories(media.resolve("clips"));
    Files.write(media.resolve("clips/a.MP4"), new byte[10]);
    assertThat(check("clips/a.MP4")).isEqualTo(new UploadCheck.LocalFile(media.resolve("clips/a.MP4"), "video/mp4", 10));
  }

  @Test
  void noWayOutOfTheMediaDirectory() throws Exception {
    Files.write(elsewhere.resolve("secret.mp4"), new byte[1]);
    Files.createSymbolicLink(media.resolve("link.mp4"), elsewhere.resolve("secret.mp4"));
    for (String p : new String[] {"../" + elsewhere.getFileName() + "/secret.mp4", elsewhere.resolve("secret.mp4").toString(), "link.mp4", "a/../../x.mp4"}) {
      assertThat(check(p)).as(p).isInstanceOfSatisfying(UploadCheck.Refused.class,
          r -> assertThat(r.code()).isEqualTo("PATH_OUTSIDE_MEDIA_DIR"));
    }
  }

  @Test
  void typeAndSizeAreCheckedBeforeSending() throws Exception {
    Files.write(media.resolve("notes.txt"), new byte[1]);
    Files.write(media.resolve("big.mov"), new byte[2000]);
    assertThat(check("notes.txt")).isInstanceOfSatisfying(UploadCheck.Refused.class, r -> {
      assertThat(r.code()).isEqualTo("4001");
      assertThat(r.hint()).contains("mp4 mov avi webm mkv");
    });
    assertThat(check("big.mov")).isInstanceOfSatisfying(UploadCheck.Refused.class, r -> assertThat(r.code()).isEqualTo("4002"));
    assertThat(check("missing.mp4")).isInstanceOfSatisfying(UploadCheck.Refused.class, r -> assertThat(r.code()).isEqualTo("NOT_FOUND"));
  }

  @Test
  void urlsNeedHttpAndAnAcceptedType() {
    assertThat(UploadCheck.check(new Request.Upload("https://cdn.example.com/v/a.webm?sig=1", null, null, null), media, 1))
        .isEqualTo(new UploadCheck.Url("https://cdn.example.com/v/a.webm?sig=1"));
    assertThat(UploadCheck.check(new Request.Upload("file:///etc/passwd", null, null, null), media, 1))
        .isInstanceOf(UploadCheck.Refused.class);
    assertThat(UploadCheck.check(new Request.Upload("https://x/y.exe", null, null, null), media, 1))
        .isInstanceOfSatisfying(UploadCheck.Refused.class, r -> assertThat(r.code()).isEqualTo("4001"));
  }
}
