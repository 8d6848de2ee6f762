using Grpc.Core;

namespace Rpc.Client;

// Credentials: what a call adds to its headers before they leave, as GrpcChannelOptions has them.
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
}
