package io.reelay.sim;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.jcodec.api.FrameGrab;
import org.jcodec.common.Codec;
import org.jcodec.common.DemuxerTrack;
import org.jcodec.common.DemuxerTrackMeta;
import org.jcodec.common.io.NIOUtils;
import org.jcodec.common.io.SeekableByteChannel;
import org.jcodec.common.model.Picture;
import org.jcodec.common.model.Size;
import org.jcodec.containers.mp4.demuxer.MP4Demuxer;

/** Checks that a file is a playable MP4 with an H.264 video track (used by tests, the CLI and the demo). */
public final class Mp4Probe {

  /** The file is missing, not an MP4, has no H.264 track, or its first frame does not decode. */
  public static final class NotPlayable extends IOException {
    public NotPlayable(String message, Throwable cause) {
      super(message, cause);
    }
  }

  private Mp4Probe() {}

  public static Mp4Info probe(Path file) throws NotPlayable {
    if (!Files.isRegularFile(file)) throw new NotPlayable("not a file: " + file, null);
    try {
      DemuxerTrackMeta meta;
      try (SeekableByteChannel ch = NIOUtils.readableChannel(file.toFile())) {
        MP4Demuxer demuxer = MP4Demuxer.createMP4Demuxer(ch);
        DemuxerTrack video = demuxer.getVideoTrack();
        if (video == null) throw new NotPlayable(file.getFileName() + " has no video track", null);
        meta = video.getMeta();
      }
      if (meta.getCodec() != Codec.H264) {
        throw new NotPlayable(file.getFileName() + " video track is " + meta.getCodec() + ", not H.264 (avc1)", null);
      }
      Size size = meta.getVideoCodecMeta() == null ? null : meta.getVideoCodecMeta().getSize();
      try (SeekableByteChannel ch = NIOUtils.readableChannel(file.toFile())) {
        // decoding a frame proves the stream is not just a well-formed index
        Picture first = FrameGrab.createFrameGrab(ch).getNativeFrame();
        if (first == null) throw new NotPlayable(file.getFileName() + " has no decodable frame", null);
        if (size == null) size = new Size(first.getWidth(), first.getHeight());
      }
      return new Mp4Info(meta.getTotalDuration(), size.getWidth(), size.getHeight(), meta.getTotalFrames(), "avc1");
    } catch (NotPlayable e) {
      throw e;
    } catch (Exception | AssertionError e) {
      // JCodec reports garbage input with all kinds of runtime exceptions (and the odd AssertionError)
      throw new NotPlayable(file.getFileName() + " is not a playable MP4: " + e, e);
    }
  }
}
