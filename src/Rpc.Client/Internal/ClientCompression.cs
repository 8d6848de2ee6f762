using System.Runtime.CompilerServices;
using Grpc.Core;
using Grpc.Net.Compression;
using Rpc.Transports.Compression;
using Rpc.Transports.Messages;
using Rpc.Transports.Protocol;

namespace Rpc.Client.Internal;

/// <summary>
/// A channel's message encodings (<see cref="RpcChannelOptions.CompressionProviders"/>), read once
/// per options object at its first call: what a call announces in its headers, how its requests
/// are compressed and its responses decompressed.
/// </summary>
internal sealed class ClientCompression
{
    private static readonly ConditionalWeakTable<RpcChannelOptions, ClientCompression> ByOptions = new();

    private readonly Dictionary<string, ICompressionProvider> _providers = new(StringComparer.Ordinal);
    // The header list of a call that has no metadata of its own, shared by all of them: nothing
    // writes to it (the trace context is added to a copy), and it saves a list per call.
    private readonly Metadata _acceptOnly;

    private ClientCompression(RpcChannelOptions options)
    {
        foreach (var provider in options.CompressionProviders)
        {
            _providers.TryAdd(provider.EncodingName, provider);
        }

        AcceptEncoding = GrpcEncoding.AcceptEncodingValue(_providers.Keys);
        _acceptOnly = [new Metadata.Entry(GrpcEncoding.AcceptEncodingHeader, AcceptEncoding)];
    }

    /// <summary>The channel's <c>grpc-accept-encoding</c> value.</summary>
    public string AcceptEncoding { get; }

    public static ClientCompression For(RpcChannelOptions options) => ByOptions.GetValue(options, static o => new ClientCompression(o));

    /// <summary>
    /// The headers a call sends: <paramref name="headers"/> without grpc-dotnet's
    /// <c>grpc-internal-encoding-request</c>, plus <c>grpc-encoding</c> when requests are
    /// compressed and <c>grpc-accept-encoding</c>. <paramref name="requestProvider"/> is the
    /// encoding named there, or by <paramref name="channelAlgorithm"/>; null for identity.
    /// </summary>
    /// <exception cref="RpcException">Internal: the named encoding has no provider.</exception>
    public Metadata PrepareHeaders(Metadata? headers, string? channelAlgorithm, out ICompressionProvider? requestProvider)
    {
        var requested = GrpcEncoding.Find(headers, GrpcEncoding.RequestEncodingHeader) ?? channelAlgorithm;
        requestProvider = null;
        if (requested is not null && requested != GrpcEncoding.Identity)
        {
            requestProvider = _providers.GetValueOrDefault(requested)
                ?? throw new RpcException(new Status(StatusCode.Internal, $"Could not find compression provider for '{requested}'."));
        }

        if ((headers is null || headers.Count == 0) && requestProvider is null)
        {
            return _acceptOnly;
        }

        var sent = new Metadata();
        var callAccepts = false;
        if (headers is not null)
        {
            foreach (var entry in headers)
            {
                if (entry.Key == GrpcEncoding.RequestEncodingHeader)
                {
                    continue;
                }

                callAccepts |= entry.Key == GrpcEncoding.AcceptEncodingHeader;
                sent.Add(entry);
            }
        }

        if (requestProvider is not null)
        {
            sent.Add(GrpcEncoding.EncodingHeader, requestProvider.EncodingName);
        }

        if (!callAccepts)
        {
            sent.Add(GrpcEncoding.AcceptEncodingHeader, AcceptEncoding);
        }

        return sent;
    }

    /// <summary>Whether a message written with <paramref name="options"/> may be compressed (not NoCompress).</summary>
    public static bool CanCompress(WriteOptions? options) => options is null || (options.Flags & WriteFlags.NoCompress) == 0;

    /// <summary>Compresses <paramref name="serialized"/> and releases it.</summary>
    public static SerializedMessage Compress(SerializedMessage serialized, ICompressionProvider provider)
    {
        try
        {
            return MessageCompression.Compress(serialized.Payload.Span, provider, static (stream, p) => p.CreateCompressionStream(stream, null));
        }
        finally
        {
            serialized.Release();
        }
    }

    /// <summary>
    /// <paramref name="message"/> as the marshaller needs it: decompressed in the encoding the
    /// server's response headers name, at most <paramref name="maxSize"/> bytes.
    /// </summary>
    public IncomingMessage Decompress(IncomingMessage message, CallStream stream, int maxSize)
    {
        if (!message.Compressed)
        {
            return message;
        }

        // The server sends its headers before its first message, and the read loop takes frames
        // in order: a compressed message never arrives before the headers that name its encoding.
        var headers = stream.ResponseHeaders;
        var encoding = headers.IsCompletedSuccessfully ? GrpcEncoding.Find(headers.Result, GrpcEncoding.EncodingHeader) : null;
        if (encoding is null || encoding == GrpcEncoding.Identity)
        {
            message.Release();
            throw new RpcException(new Status(StatusCode.Internal, "The server sent a compressed message without naming its grpc-encoding."));
        }

        if (!_providers.TryGetValue(encoding, out var provider))
        {
            message.Release();
            throw new RpcException(GrpcEncoding.Unsupported(encoding, AcceptEncoding));
        }

        return MessageCompression.Decompress(message, maxSize, provider, static (stream, p) => p.CreateDecompressionStream(stream));
    }
}
