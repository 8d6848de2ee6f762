using Grpc.Core;
using Grpc.Net.Compression;
using Rpc.Transports.Compression;
using Rpc.Transports.Messages;
using Rpc.Transports.Protocol;

namespace Rpc.Server.Internal;

/// <summary>
/// A server's message encodings (<see cref="RpcServerOptions.CompressionProviders"/>), resolved
/// once at the first call: how requests are decompressed, and which encoding a call's responses use.
/// </summary>
internal sealed class ServerCompression
{
    private readonly Dictionary<string, ICompressionProvider> _providers = new(StringComparer.Ordinal);
    private readonly ICompressionProvider? _response;
    private readonly System.IO.Compression.CompressionLevel? _level;

    private ServerCompression(RpcServerOptions options)
    {
        foreach (var provider in options.CompressionProviders)
        {
            _providers.TryAdd(provider.EncodingName, provider);
        }

        AcceptEncoding = GrpcEncoding.AcceptEncodingValue(_providers.Keys);
        if (options.ResponseCompressionAlgorithm is { } algorithm && _providers.TryGetValue(algorithm, out var response))
        {
            _response = response;
            // Shared by every compressed call's response headers; nothing writes to it.
            ResponseHeaders = [new Metadata.Entry(GrpcEncoding.EncodingHeader, algorithm)];
        }

        _level = options.ResponseCompressionLevel;
    }

    /// <summary>The server's <c>grpc-accept-encoding</c> value.</summary>
    public string AcceptEncoding { get; }

    /// <summary>Response headers naming the response encoding; null when responses are not compressed.</summary>
    public Metadata? ResponseHeaders { get; }

    public static ServerCompression For(RpcServerOptions options) => options.ResolvedCompression ??= new ServerCompression(options);

    /// <summary>The encoding for a call's responses: the configured one if the client accepts it, else null (identity).</summary>
    public ICompressionProvider? ResponseProviderFor(Metadata requestHeaders) =>
        _response is { } response && GrpcEncoding.Accepts(GrpcEncoding.Find(requestHeaders, GrpcEncoding.AcceptEncodingHeader), response.EncodingName) ? response : null;

    /// <summary>Whether a message written with <paramref name="options"/> may be compressed (not NoCompress).</summary>
    public static bool CanCompress(WriteOptions? options) => options is null || (options.Flags & WriteFlags.NoCompress) == 0;

    /// <summary>Compresses <paramref name="serialized"/> and releases it.</summary>
    public SerializedMessage Compress(SerializedMessage serialized, ICompressionProvider provider)
    {
        try
        {
            return MessageCompression.Compress(serialized.Payload.Span, (provider, _level), static (stream, state) => state.provider.CreateCompressionStream(stream, state._level));
        }
        finally
        {
            serialized.Release();
        }
    }

    /// <summary>
    /// <paramref name="message"/> decompressed in the request's <paramref name="encoding"/>, at most
    /// <paramref name="maxSize"/> bytes. An encoding this server lacks fails Unimplemented with its
    /// own list in the <c>grpc-accept-encoding</c> trailer, as the gRPC spec asks.
    /// </summary>
    public IncomingMessage Decompress(IncomingMessage message, string? encoding, int maxSize)
    {
        if (!message.Compressed)
        {
            return message;
        }

        if (encoding is null || encoding == GrpcEncoding.Identity)
        {
            message.Release();
            throw new RpcException(GrpcEncoding.MissingEncoding);
        }

        if (!_providers.TryGetValue(encoding, out var provider))
        {
            message.Release();
            throw new RpcException(GrpcEncoding.Unsupported(encoding, AcceptEncoding), [new Metadata.Entry(GrpcEncoding.AcceptEncodingHeader, AcceptEncoding)]);
        }

        return MessageCompression.Decompress(message, maxSize, provider, static (stream, p) => p.CreateDecompressionStream(stream));
    }
}
