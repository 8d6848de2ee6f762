using Rpc.Client;
using Rpc.Transports;
using Xunit;

namespace Rpc.Tests;

public sealed class TransportAddressTests
{
    [Theory]
    [InlineData("unix:///tmp/a.sock", "unix", "/tmp/a.sock")]
    [InlineData("unix:relative/a.sock", "unix", "relative/a.sock")]
    [InlineData("UNIX:///x", "unix", "/x")]
    public void Parse_ValidAddress_SplitsSchemeAndTarget(string address, string scheme, string target)
    {
        var parsed = TransportAddress.Parse(address);
        Assert.Equal(scheme, parsed.Scheme);
        Assert.Equal(target, parsed.Target);
    }

    [Theory]
    [InlineData("no-scheme")]
    [InlineData("unix:")]
    [InlineData(":x")]
    public void Parse_Malformed_ThrowsNamingAcceptedForms(string address) =>
        Assert.Contains("Accepted forms", Assert.Throws<ArgumentException>(() => TransportAddress.Parse(address)).Message, StringComparison.Ordinal);

    [Fact]
    public void ForAddress_UnknownScheme_FailsAtOnce() =>
        Assert.Contains("No transport serves the scheme 'carrier'", Assert.Throws<ArgumentException>(() => RpcChannel.ForAddress("carrier://pigeon")).Message, StringComparison.Ordinal);
}

public sealed class AddressValidationTests
{
    [Theory]
    [InlineData("tcp://no-port")]
    [InlineData("tcp://host:99999")]
    [InlineData("tcps://:80")]
    [InlineData("pipe://a/b")]
    [InlineData("shm://bad name")]
    [InlineData("shm://")]
    public void ForAddress_MalformedForTransport_FailsAtOnceNamingAcceptedForms(string address) =>
        Assert.Contains("Accepted forms", Assert.Throws<ArgumentException>(() => RpcChannel.ForAddress(address)).Message, StringComparison.Ordinal);

    [Fact]
    public void Listen_MalformedAddress_FailsAtOnce() =>
        Assert.Throws<ArgumentException>(() => new Rpc.Server.RpcServer().Listen("tcp://localhost"));
}
