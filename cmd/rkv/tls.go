package main

import (
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"os"

	"github.com/rkv/rkv/consensus/transport"
)

// tlsOptions are the TLS flags, named and meant as Redis's, and the
// cluster secret of the Raft bus.
type tlsOptions struct {
	certFile, keyFile, caFile string
	authClients               tls.ClientAuthType
	cluster                   bool
	secret                    string
}

// tlsFlags registers the TLS and bus secret flags on fs; the function it
// returns checks them after fs.Parse.
func tlsFlags(fs *flag.FlagSet) func() (tlsOptions, error) {
	cert := fs.String("tls-cert-file", "", "certificate (PEM) of this node: with --tls-key-file, the client port speaks TLS")
	key := fs.String("tls-key-file", "", "private key (PEM) of --tls-cert-file")
	ca := fs.String("tls-ca-cert-file", "", "CA certificates (PEM) that client certificates, and with --tls-cluster the other nodes' certificates, must chain to")
	auth := fs.String("tls-auth-clients", "yes", "client certificates: yes (required), optional (checked if given) or no")
	cluster := fs.String("tls-cluster", "no", "yes: the Raft bus is mutual TLS with the same certificate, key and CA")
	secret := fs.String("cluster-secret", "", "secret every node of the cluster is given: the Raft bus handshake proves it with HMAC-SHA256, so that no one without it can join or send Raft messages (\"\": the cluster id alone, see the README)")
	secretFile := fs.String("cluster-secret-file", "", "file holding --cluster-secret (its first line), so that the secret is not on the command line for anyone who can list processes")
	return func() (tlsOptions, error) {
		o := tlsOptions{certFile: *cert, keyFile: *key, caFile: *ca, secret: *secret}
		if *secretFile != "" {
			if o.secret != "" {
				return o, &usageError{"--cluster-secret and --cluster-secret-file: give one"}
			}
			var err error
			if o.secret, err = readFirstLine("--cluster-secret-file", *secretFile); err != nil {
				return o, err
			}
		}
		switch *auth {
		case "yes":
			o.authClients = tls.RequireAndVerifyClientCert
		case "optional":
			o.authClients = tls.VerifyClientCertIfGiven
		case "no":
			o.authClients = tls.NoClientCert
		default:
			return o, &usageError{fmt.Sprintf("--tls-auth-clients %q: want yes, optional or no", *auth)}
		}
		switch *cluster {
		case "yes", "no":
			o.cluster = *cluster == "yes"
		default:
			return o, &usageError{fmt.Sprintf("--tls-cluster %q: want yes or no", *cluster)}
		}
		switch {
		case (o.certFile == "") != (o.keyFile == ""):
			return o, &usageError{"--tls-cert-file and --tls-key-file go together"}
		case o.certFile == "" && (o.cluster || o.caFile != ""):
			return o, &usageError{"--tls-cluster and --tls-ca-cert-file need --tls-cert-file and --tls-key-file"}
		case o.certFile != "" && o.caFile == "" && (o.cluster || o.authClients != tls.NoClientCert):
			return o, &usageError{"--tls-ca-cert-file is needed to check client certificates (or give --tls-auth-clients no) and, with --tls-cluster yes, the other nodes'"}
		}
		return o, nil
	}
}

// enabled reports whether the client port speaks TLS.
func (o *tlsOptions) enabled() bool { return o.certFile != "" }

// tlsConfigs are what tlsOptions.load builds: the client port's server
// config, the bus's mutual config and the config of this node's own
// client connections to other nodes (joining). Each is nil when its TLS
// is off.
type tlsConfigs struct {
	server, bus, client *tls.Config
}

// load reads the certificate, key and CA files.
func (o *tlsOptions) load() (tlsConfigs, error) {
	var out tlsConfigs
	if !o.enabled() {
		return out, nil
	}
	cert, err := tls.LoadX509KeyPair(o.certFile, o.keyFile)
	if err != nil {
		return out, &usageError{fmt.Sprintf("--tls-cert-file/--tls-key-file: %v", err)}
	}
	var roots *x509.CertPool
	if o.caFile != "" {
		pem, err := os.ReadFile(o.caFile)
		if err != nil {
			return out, &usageError{fmt.Sprintf("--tls-ca-cert-file: %v", err)}
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return out, &usageError{fmt.Sprintf("--tls-ca-cert-file %s: no PEM certificate in it", o.caFile)}
		}
	}
	certs := []tls.Certificate{cert}
	out.server = &tls.Config{
		Certificates: certs, ClientAuth: o.authClients, ClientCAs: roots, MinVersion: tls.VersionTLS12,
	}
	// Nodes verify each other's chain but not host names, as on the bus:
	// a node reaches another by whatever address it was told.
	mutual := transport.MutualTLS(certs, roots)
	if o.cluster {
		out.bus = mutual
	}
	if roots != nil {
		out.client = mutual
	} else {
		out.client = &tls.Config{Certificates: certs, MinVersion: tls.VersionTLS12}
	}
	return out, nil
}
