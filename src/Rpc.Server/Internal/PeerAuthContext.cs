using System.Globalization;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Grpc.Core;
using Rpc.Transports;

namespace Rpc.Server.Internal;

/// <summary>
/// The <see cref="AuthContext"/> a handler sees, built from what the transport learned of its peer:
/// a TLS client certificate the way grpc-dotnet presents it, a local peer's user, group and process.
/// </summary>
internal static class PeerAuthContext
{
    /// <summary>gRPC's property naming how the connection is secured: <c>ssl</c> or <c>local</c>.</summary>
    public const string TransportSecurityType = "transport_security_type";

    /// <summary>The client certificate's common name (TLS).</summary>
    public const string X509CommonName = "x509_common_name";

    /// <summary>One of the client certificate's DNS or IP subject alternative names (TLS).</summary>
    public const string X509SubjectAlternativeName = "x509_subject_alternative_name";

    /// <summary>The client certificate in PEM (TLS).</summary>
    public const string X509PemCert = "x509_pem_cert";

    /// <summary>A local peer's effective user id, in decimal.</summary>
    public const string PeerUserId = "peer_uid";

    /// <summary>A local peer's effective group id, in decimal.</summary>
    public const string PeerGroupId = "peer_gid";

    /// <summary>A local peer's process id, in decimal.</summary>
    public const string PeerProcessId = "peer_pid";

    public static AuthContext Create(PeerIdentity? identity)
    {
        var properties = new Dictionary<string, List<AuthProperty>>(StringComparer.Ordinal);
        string? peerIdentity = null;
        if (identity?.Certificate is { } certificate)
        {
            Add(properties, TransportSecurityType, "ssl");
            peerIdentity = AddCertificate(properties, certificate);
        }
        else if (identity is { IsLocal: true })
        {
            Add(properties, TransportSecurityType, "local");
            Add(properties, PeerUserId, identity.UserId);
            Add(properties, PeerGroupId, identity.GroupId);
            Add(properties, PeerProcessId, identity.ProcessId);
            // The operating system vouches for a local peer's user, as TLS does for a certificate.
            peerIdentity = PeerUserId;
        }

        return new AuthContext(peerIdentity, properties);
    }

    /// <summary>Adds the certificate's names; returns the property that identifies the peer (as grpc-dotnet: the SANs, else the CN).</summary>
    private static string? AddCertificate(Dictionary<string, List<AuthProperty>> properties, X509Certificate2 certificate)
    {
        string? peerIdentity = null;
        var commonName = certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
        if (!string.IsNullOrEmpty(commonName))
        {
            Add(properties, X509CommonName, commonName);
            peerIdentity = X509CommonName;
        }

        foreach (var extension in certificate.Extensions)
        {
            if (extension is X509SubjectAlternativeNameExtension names)
            {
                foreach (var dns in names.EnumerateDnsNames())
                {
                    Add(properties, X509SubjectAlternativeName, dns);
                    peerIdentity = X509SubjectAlternativeName;
                }

                foreach (var ip in names.EnumerateIPAddresses())
                {
                    Add(properties, X509SubjectAlternativeName, ip.ToString());
                    peerIdentity = X509SubjectAlternativeName;
                }
            }
        }

        Add(properties, X509PemCert, certificate.ExportCertificatePem());
        return peerIdentity;
    }

    private static void Add(Dictionary<string, List<AuthProperty>> properties, string name, long? value)
    {
        if (value is { } known)
        {
            Add(properties, name, known.ToString(CultureInfo.InvariantCulture));
        }
    }

    private static void Add(Dictionary<string, List<AuthProperty>> properties, string name, string value)
    {
        if (!properties.TryGetValue(name, out var list))
        {
            properties[name] = list = [];
        }

        list.Add(AuthProperty.Create(name, Encoding.UTF8.GetBytes(value)));
    }
}
