using System.IO.Compression;
using System.Xml.Linq;

namespace Rpc.Packaging.Tests.Infrastructure;

/// <summary>A .nupkg (or .snupkg) as NuGet reads it: its nuspec and the paths of its files.</summary>
public sealed class Package
{
    private Package(XElement metadata, IReadOnlyList<string> files)
    {
        Metadata = metadata;
        Files = files;
    }

    /// <summary>The nuspec's &lt;metadata&gt;.</summary>
    public XElement Metadata { get; }

    public IReadOnlyList<string> Files { get; }

    public static Package Open(string path)
    {
        using var zip = ZipFile.OpenRead(path);
        var nuspec = zip.Entries.Single(e => !e.FullName.Contains('/', StringComparison.Ordinal) && e.FullName.EndsWith(".nuspec", StringComparison.Ordinal));
        using var stream = nuspec.Open();
        var document = XDocument.Load(stream);
        var metadata = document.Root!.Elements().Single(e => e.Name.LocalName == "metadata");
        return new Package(metadata, zip.Entries.Select(e => e.FullName).ToList());
    }

    /// <summary>The text of a metadata element (<c>description</c>, <c>license</c>, ...), or null.</summary>
    public string? Value(string name) => Element(name)?.Value;

    public XElement? Element(string name) => Metadata.Elements().SingleOrDefault(e => e.Name.LocalName == name);

    /// <summary>The dependencies of the net10.0 group, by id.</summary>
    public IReadOnlyDictionary<string, XElement> Dependencies() =>
        Group("dependencies").Elements().Where(e => e.Name.LocalName == "dependency")
            .ToDictionary(e => (string)e.Attribute("id")!, e => e);

    /// <summary>The framework references of the net10.0 group, by name.</summary>
    public IReadOnlyList<string> FrameworkReferences() =>
        Element("frameworkReferences") is null
            ? []
            : Group("frameworkReferences").Elements().Select(e => (string)e.Attribute("name")!).ToList();

    private XElement Group(string name) =>
        (Element(name) ?? throw new InvalidOperationException($"The nuspec has no <{name}>."))
            .Elements().Single(g => (string?)g.Attribute("targetFramework") == "net10.0");
}
