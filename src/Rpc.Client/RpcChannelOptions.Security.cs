using Grpc.Core;
using Grpc.Net.Compression;

namespace Rpc.Client;

// Credentials and message compression: what a call adds to its headers and does to its messages
// before they leave, as GrpcChannelOptions has them. (Compression sits here too: both decide what a
// call's metadata says about it, and this partial is the one this feature owns.)
public sealed partial class RpcChannelOptions
{
    /// <summary>
    /// Credentials for every call on the channel, as <c>GrpcChannelOptions.Credentials</c>:
    /// <c>ChannelCredentials.Create(ChannelCredentials.SecureSsl, callCredentials)</c> runs the call
    /// credentials' interceptor before each call starts and sends the metadata it adds. Over
    /// <c>tcp://</c> call credentials are refused (the call fails Unavailable) unless
    /// <see cref="UnsafeUseInsecureChannelCallCredentials"/> is set; every same-host transport and
    /// <c>tcps://</c> count as secure (docs/credentials.md). Secure channel credentials on
    /// <c>tcp://</c>, or insecure ones on <c>tcps://</c>, throw <see cref="InvalidOperationException"/>
    /// when a call starts. Default: none.
    /// </summary>
    public ChannelCredentials? Credentials { get; set; }

    /// <summary>
    /// Sends call credentials' metadata over plaintext <c>tcp://</c> too, where anyone on the path
    /// can read it, as grpc-dotnet's option of the same name. Default: false.
    /// </summary>
    public bool UnsafeUseInsecureChannelCallCredentials { get; set; }

    /// <summary>
    /// The message encodings the channel can send and receive, as
    /// <c>GrpcChannelOptions.CompressionProviders</c>; <c>identity</c> is always supported.
    /// Read when the channel makes its first call. Default: gzip.
    /// </summary>
    public IList<ICompressionProvider> CompressionProviders { get; } = [new GzipCompressionProvider(System.IO.Compression.CompressionLevel.Fastest)];

    /// <summary>
    /// The encoding every request message is sent with, as if each call's metadata held
    /// <c>grpc-internal-encoding-request</c> (which, when present, wins). It must name one of
    /// <see cref="CompressionProviders"/>. Default: none, messages go uncompressed.
    /// </summary>
    public string? RequestCompressionAlgorithm { get; set; }
}
