using System.IO.Compression;
using Grpc.Net.Compression;

namespace Rpc.Server;

// Message compression, as Grpc.AspNetCore's GrpcServiceOptions has it (docs/compression.md).
public sealed partial class RpcServerOptions
{
    private string? _responseCompressionAlgorithm;

    /// <summary>
    /// The encodings the server can read and write, as <c>GrpcServiceOptions.CompressionProviders</c>;
    /// <c>identity</c> is always supported. A request compressed in any other encoding fails
    /// Unimplemented, naming these in <c>grpc-accept-encoding</c>. Set before
    /// <see cref="RpcServer.StartAsync"/>: it is read at the first call. Default: gzip.
    /// </summary>
    public IList<ICompressionProvider> CompressionProviders { get; } = [new GzipCompressionProvider(CompressionLevel.Fastest)];

    /// <summary>
    /// The encoding response messages are compressed with when the client's
    /// <c>grpc-accept-encoding</c> names it (otherwise they go uncompressed), as
    /// <c>GrpcServiceOptions.ResponseCompressionAlgorithm</c>. A handler turns it off for one
    /// message with <c>WriteOptions(WriteFlags.NoCompress)</c>. Default: none.
    /// </summary>
    /// <exception cref="InvalidOperationException">No provider in <see cref="CompressionProviders"/> has this name.</exception>
    public string? ResponseCompressionAlgorithm
    {
        get => _responseCompressionAlgorithm;
        set
        {
            if (value is not null && value != "identity" && !CompressionProviders.Any(p => p.EncodingName == value))
            {
                throw new InvalidOperationException($"The response compression algorithm '{value}' has no matching provider in CompressionProviders; add one first.");
            }

            _responseCompressionAlgorithm = value;
        }
    }

    /// <summary>The level response messages are compressed at, as <c>GrpcServiceOptions.ResponseCompressionLevel</c>. Default: the provider's own.</summary>
    public CompressionLevel? ResponseCompressionLevel { get; set; }

    /// <summary>The encodings resolved from these options at the first call; later changes are not seen.</summary>
    internal Internal.ServerCompression? ResolvedCompression { get; set; }
}
