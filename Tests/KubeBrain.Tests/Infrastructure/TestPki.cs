using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace KubeBrain.Tests.Infrastructure;

/// <summary>
/// A throwaway public key infrastructure: certificate authorities and the server and client certificates they
/// sign (ECDSA P-256, valid for an hour), each also written as PEM files to a temporary directory that
/// <see cref="Dispose"/> removes.
/// </summary>
public sealed class TestPki : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("kubebrain-pki-").FullName;

    /// <summary>A path in the directory that holds the files (for one that does not exist, too).</summary>
    public string PathOf(string file) => Path.Combine(_directory, file);

    /// <summary>A new self-signed CA; its certificate is <c>&lt;name&gt;.pem</c>.</summary>
    public TestAuthority Authority(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: false, 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        var now = DateTimeOffset.UtcNow;
        var certificate = request.CreateSelfSigned(now.AddMinutes(-5), now.AddHours(1));
        return new TestAuthority(this, certificate, Write(name, certificate, key).CertFile);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    /// <summary>Writes <c>&lt;name&gt;.pem</c> and <c>&lt;name&gt;-key.pem</c>.</summary>
    internal IssuedCertificate Write(string name, X509Certificate2 certificate, ECDsa key)
    {
        var certFile = PathOf($"{name}.pem");
        var keyFile = PathOf($"{name}-key.pem");
        File.WriteAllText(certFile, certificate.ExportCertificatePem());
        File.WriteAllText(keyFile, key.ExportPkcs8PrivateKeyPem());
        return new IssuedCertificate(certificate, certFile, keyFile);
    }
}

/// <summary>A CA of a <see cref="TestPki"/>, with its private key; <see cref="CertFile"/> is its PEM certificate.</summary>
public sealed class TestAuthority
{
    private static readonly Oid ServerAuthentication = new("1.3.6.1.5.5.7.3.1");
    private static readonly Oid ClientAuthentication = new("1.3.6.1.5.5.7.3.2");

    private readonly TestPki _pki;

    internal TestAuthority(TestPki pki, X509Certificate2 certificate, string certFile)
    {
        _pki = pki;
        Certificate = certificate;
        CertFile = certFile;
    }

    public X509Certificate2 Certificate { get; }

    public string CertFile { get; }

    /// <summary>A server certificate for 127.0.0.1 and localhost.</summary>
    public IssuedCertificate IssueServer(string name) => Issue(name, ServerAuthentication, loopback: true);

    /// <summary>A client certificate (usage: client authentication).</summary>
    public IssuedCertificate IssueClient(string name) => Issue(name, ClientAuthentication, loopback: false);

    /// <summary>
    /// TLS that trusts this CA only (no system root), presenting <paramref name="client"/> when there is one, whatever
    /// the server asks for and whatever its usages.
    /// </summary>
    public SslClientAuthenticationOptions ClientOptions(IssuedCertificate? client = null)
    {
        var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
        policy.CustomTrustStore.Add(Certificate);
        var options = new SslClientAuthenticationOptions { CertificateChainPolicy = policy };
        if (client is not null)
        {
            options.LocalCertificateSelectionCallback = (_, _, _, _, _) => client.Certificate;
        }
        return options;
    }

    private IssuedCertificate Issue(string name, Oid usage, bool loopback)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: false, hasPathLengthConstraint: false, 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([usage], critical: false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(Certificate, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        if (loopback)
        {
            var names = new SubjectAlternativeNameBuilder();
            names.AddIpAddress(IPAddress.Loopback);
            names.AddDnsName("localhost");
            request.CertificateExtensions.Add(names.Build());
        }
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7f;
        var now = DateTimeOffset.UtcNow;
        using var issued = request.Create(Certificate, now.AddMinutes(-5), now.AddMinutes(55), serial);
        return _pki.Write(name, issued.CopyWithPrivateKey(key), key);
    }
}

/// <summary>A certificate with its private key, and the PEM files of both.</summary>
public sealed record IssuedCertificate(X509Certificate2 Certificate, string CertFile, string KeyFile);
