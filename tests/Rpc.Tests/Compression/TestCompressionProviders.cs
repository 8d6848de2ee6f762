using System.IO.Compression;
using Grpc.Net.Compression;

namespace Rpc.Tests.Compression;

/// <summary>Compression providers the tests need besides gzip.</summary>
internal static class TestCompressionProviders
{
    /// <summary>gzip of 256 MiB of zeros: about 256 KiB that claim to be a 256 MiB message.</summary>
    public static readonly Lazy<byte[]> GzipBomb = new(() =>
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Optimal, leaveOpen: true))
        {
            var zeros = new byte[1024 * 1024];
            for (var i = 0; i < 256; i++)
            {
                gzip.Write(zeros);
            }
        }

        return output.ToArray();
    });

    /// <summary>A provider under a name no server knows, so its messages are an unsupported encoding.</summary>
    public sealed class Unknown : ICompressionProvider
    {
        public string EncodingName => "x-unknown";

        public Stream CreateCompressionStream(Stream stream, CompressionLevel? compressionLevel) => new DeflateStream(stream, CompressionLevel.Fastest, leaveOpen: true);

        public Stream CreateDecompressionStream(Stream stream) => new DeflateStream(stream, CompressionMode.Decompress, leaveOpen: true);
    }

    /// <summary>Says "gzip" but fails any message it is asked to decompress: a client with it proves its responses came uncompressed.</summary>
    public sealed class RefusesToDecompress : ICompressionProvider
    {
        public string EncodingName => "gzip";

        public Stream CreateCompressionStream(Stream stream, CompressionLevel? compressionLevel) => new GZipStream(stream, CompressionLevel.Fastest, leaveOpen: true);

        public Stream CreateDecompressionStream(Stream stream) => throw new InvalidDataException("This test's client takes no compressed message.");
    }

    /// <summary>Says "gzip" but compresses every message to <see cref="GzipBomb"/>, as a hostile peer would.</summary>
    public sealed class Bomb : ICompressionProvider
    {
        public string EncodingName => "gzip";

        public Stream CreateCompressionStream(Stream stream, CompressionLevel? compressionLevel) => new BombWriter(stream);

        public Stream CreateDecompressionStream(Stream stream) => new GZipStream(stream, CompressionMode.Decompress, leaveOpen: true);
    }

    /// <summary>Swallows what it is given and writes the bomb into the target when disposed.</summary>
    private sealed class BombWriter(Stream target) : Stream
    {
        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count)
        {
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                target.Write(GzipBomb.Value);
            }

            base.Dispose(disposing);
        }
    }
}
