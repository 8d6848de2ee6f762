using Grpc.Core;

namespace Rpc.Transports.Compression;

/// <summary>
/// gRPC's message-encoding metadata (docs/compression.md): which encoding a peer's messages use
/// and which it can read. The names and messages are grpc-dotnet's, so a caller sees the same
/// statuses whichever channel it uses.
/// </summary>
internal static class GrpcEncoding
{
    /// <summary>The encoding of the sender's compressed messages.</summary>
    public const string EncodingHeader = "grpc-encoding";

    /// <summary>The encodings the sender can read, comma-separated.</summary>
    public const string AcceptEncodingHeader = "grpc-accept-encoding";

    /// <summary>grpc-dotnet's convention: call metadata naming the encoding to send requests with; never sent itself.</summary>
    public const string RequestEncodingHeader = "grpc-internal-encoding-request";

    /// <summary>No compression.</summary>
    public const string Identity = "identity";

    /// <summary>Whether the comma-separated <paramref name="acceptEncoding"/> list names <paramref name="encoding"/>.</summary>
    public static bool Accepts(string? acceptEncoding, string encoding)
    {
        if (acceptEncoding is null)
        {
            return false;
        }

        foreach (var range in acceptEncoding.AsSpan().Split(','))
        {
            if (acceptEncoding.AsSpan(range).Trim().Equals(encoding, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The <c>grpc-accept-encoding</c> value for these encodings: identity first.</summary>
    public static string AcceptEncodingValue(IEnumerable<string> encodings) =>
        string.Join(',', new[] { Identity }.Concat(encodings.Where(e => e != Identity)));

    /// <summary>The status for a compressed message in an encoding this side cannot read (gRPC: Unimplemented).</summary>
    public static Status Unsupported(string encoding, string acceptEncoding) =>
        new(StatusCode.Unimplemented, $"Unsupported grpc-encoding value '{encoding}'. Supported encodings: {acceptEncoding.Replace(",", ", ", StringComparison.Ordinal)}");

    /// <summary>The status for a compressed message whose sender named no encoding (gRPC: Internal).</summary>
    public static Status MissingEncoding { get; } =
        new(StatusCode.Internal, "Request did not include grpc-encoding value with compressed message.");

    /// <summary>The value of <paramref name="key"/> in <paramref name="metadata"/>, first one wins; null if absent.</summary>
    public static string? Find(Metadata? metadata, string key)
    {
        if (metadata is null)
        {
            return null;
        }

        for (var i = 0; i < metadata.Count; i++)
        {
            var entry = metadata[i];
            if (!entry.IsBinary && entry.Key == key)
            {
                return entry.Value;
            }
        }

        return null;
    }
}
