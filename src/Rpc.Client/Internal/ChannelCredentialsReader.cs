using Grpc.Core;

namespace Rpc.Client.Internal;

/// <summary>
/// Reads a <see cref="ChannelCredentials"/> the only way Grpc.Core.Api allows, by visiting it:
/// whether it asks for a secure channel, and the call credentials composed into it.
/// </summary>
internal sealed class ChannelCredentialsReader : ChannelCredentialsConfiguratorBase
{
    private ChannelCredentialsReader()
    {
    }

    /// <summary>Whether the credentials ask for TLS (SecureSsl) or not (Insecure).</summary>
    public bool IsSecure { get; private set; }

    /// <summary>Call credentials composed into the channel's, in the order given; null when none.</summary>
    public List<CallCredentials>? CallCredentials { get; private set; }

    public static ChannelCredentialsReader Read(ChannelCredentials credentials)
    {
        var reader = new ChannelCredentialsReader();
        credentials.InternalPopulateConfiguration(reader, credentials);
        return reader;
    }

    public override void SetCompositeCredentials(object state, ChannelCredentials channelCredentials, CallCredentials callCredentials)
    {
        channelCredentials.InternalPopulateConfiguration(this, state);
        if (callCredentials is not null)
        {
            (CallCredentials ??= []).Add(callCredentials);
        }
    }

    public override void SetInsecureCredentials(object state) => IsSecure = false;

    public override void SetSslCredentials(object state, string? rootCertificates, KeyCertificatePair? keyCertificatePair, VerifyPeerCallback? verifyPeerCallback)
    {
        if (!string.IsNullOrEmpty(rootCertificates) || keyCertificatePair is not null || verifyPeerCallback is not null)
        {
            // As GrpcChannel: TLS itself is configured where the connection is made, not here.
            throw new InvalidOperationException(
                "SslCredentials with arguments is not supported by RpcChannel: use ChannelCredentials.SecureSsl, and set certificates and " +
                "validation on TcpTransportOptions (tcps://) or RpcChannelOptions.ServerCertificateValidation / HttpHandler (https://).");
        }

        IsSecure = true;
    }
}
