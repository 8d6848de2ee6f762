using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Rpc.Tests.Infrastructure;

/// <summary>Self-signed certificates made for the run, so TLS tests need no files in the repository.</summary>
public static class TestCertificates
{
    private static readonly Lazy<X509Certificate2> LazyServer = new(() => Create("CN=localhost"));
    private static readonly Lazy<string> LazyServerPfx = new(() =>
    {
        var path = Path.Combine(Path.GetTempPath(), $"rpct-cert-{Environment.ProcessId}.pfx");
        File.WriteAllBytes(path, Server.Export(X509ContentType.Pfx));
        AppDomain.CurrentDomain.ProcessExit += (_, _) => File.Delete(path);
        return path;
    });

    public static X509Certificate2 Server => LazyServer.Value;

    /// <summary>The server certificate as a PFX file, for helper processes (RPC_TEST_CERT).</summary>
    public static string ServerPfxPath => LazyServerPfx.Value;

    public static X509Certificate2 Create(string subject)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddIpAddress(System.Net.IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(7));
        return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pfx), password: null);
    }
}
